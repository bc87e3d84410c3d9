"""Downloads: reports and evidence packs, made by the same modules the CLI uses.

The reporters (:mod:`golive.report.formats`, :mod:`golive.report.html`) and the run packer
(:mod:`golive.evidence.runpack`) belong to other parts of golive; a build without one of them answers 501
with a message, never a half-made file.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from golive import exceptions
from golive.engine import acts
from golive.exceptions import NotAvailable
from golive.views import summary

__all__ = ["REPORT_FORMATS", "NotAvailable", "evidence_pack", "find_evidence", "report"]

REPORT_FORMATS = ("json", "md", "html", "junit")
_MEDIA = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "junit": "application/xml",
}
_SUFFIX = {"json": "json", "md": "md", "html": "html", "junit": "xml"}


async def report(h: acts.RunHandle, fmt: str) -> tuple[bytes, str, str]:
    """The run's report in ``fmt``: (bytes, media type, file name)."""
    if fmt not in REPORT_FORMATS:
        raise exceptions.NotFound(f"no report format {fmt!r}; use one of: {', '.join(REPORT_FORMATS)}")
    data = summary.summarize(h)
    try:
        if fmt == "html":
            # Imported by name: the HTML reporter and the run packer ship separately and may be absent.
            html: Any = importlib.import_module("golive.report.html")
            text = str(await html.render_run(h, data))
        else:
            from golive.report import formats

            text = formats.render(fmt, data)
    except ImportError as exc:
        raise NotAvailable(f"the {fmt} report is not available in this build ({exc.name} is missing)") from None
    return text.encode("utf-8"), _MEDIA[fmt], f"golive-{h.run_id}.{_SUFFIX[fmt]}"


async def evidence_pack(h: acts.RunHandle) -> tuple[bytes, str]:
    """The run's evidence pack as zip bytes, and its file name."""
    try:
        runpack: Any = importlib.import_module("golive.evidence.runpack")
    except ImportError as exc:
        raise NotAvailable(f"evidence packs are not available in this build ({exc.name} is missing)") from None
    tmp = Path(tempfile.mkdtemp(prefix="golive-pack-"))
    try:
        out = tmp / f"evidence-{h.run_id}.zip"
        await runpack.pack_run(h.store, h.run_id, out)
        data = await asyncio.to_thread(out.read_bytes)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
    return data, out.name


def find_evidence(h: acts.RunHandle, digest: str) -> dict[str, Any] | None:
    """The evidence item of this run with sha256 ``digest`` (a blob of another run is not served here)."""
    for st in h.state.steps.values():
        for item in st.evidence:
            if isinstance(item, dict) and item.get("sha256") == digest:
                return item
    return None
