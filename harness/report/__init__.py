"""Reporters: read a results document, write index.html and junit.xml. They run no framework."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report.html import render_html
from harness.report.junit import render_junit


def render_all(doc: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(render_html(doc), encoding="utf-8")
    (out / "junit.xml").write_text(render_junit(doc), encoding="utf-8")


__all__ = ["render_all", "render_html", "render_junit"]
