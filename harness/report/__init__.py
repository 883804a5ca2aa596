"""Reporters: read a results document, write index.html and junit.xml. They run no framework."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report.html import render_html, render_pages
from harness.report.junit import render_junit


def render_all(doc: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "details"
    if stale.is_dir():  # pages of an earlier, larger run must not linger
        for old in stale.glob("page-*.html"):
            old.unlink()
    for rel, html in render_pages(doc).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    (out / "junit.xml").write_text(render_junit(doc), encoding="utf-8")


__all__ = ["render_all", "render_html", "render_pages", "render_junit"]
