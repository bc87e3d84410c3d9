"""The HTML report's compiled templates (src/golive/report/templates/compiled) match the templates."""

from __future__ import annotations

from pathlib import Path

from golive.report import html


def test_the_shipped_compiled_templates_are_what_the_templates_compile_to(tmp_path: Path) -> None:
    """Fails after a template is edited (or Jinja upgraded) until `scripts/compile-templates` is run: until
    then the report compiles the templates in every process (still correct, only slower)."""
    html.compile_templates(tmp_path)
    fresh = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    shipped = {p.name: p.read_bytes() for p in html.COMPILED.iterdir() if p.is_file()}
    assert shipped.keys() == fresh.keys(), "run scripts/compile-templates"
    stale = sorted(name for name in fresh if shipped[name] != fresh[name])
    assert not stale, f"{stale} differ: run scripts/compile-templates"
