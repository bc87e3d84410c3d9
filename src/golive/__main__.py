from __future__ import annotations

from golive.cli import main

main()
