"""Reporters: read a results document, write index.html and junit.xml. They run no framework.

A run's records are read back one case at a time: details pages are written as they fill, and
only a slim summary of each result (what the index matrix and junit.xml show) is held.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.report.html import by_case, render_html, write_html, write_page
from harness.report.junit import render_junit
from harness.results import Stored

PAGE_SIZE = 300  # cases per details page once a run has more than this
SLIM_RESULT = ("case_id", "framework", "device", "verdict", "reason", "error", "seconds")
SLIM_CASE = ("id", "order", "op", "tags", "source")


def render_all(doc: dict[str, Any] | Stored, out: Path) -> dict[str, Any]:
    """Write index.html (+ details/page-NNN.html past PAGE_SIZE cases) and junit.xml; return the
    summary document they were made from (meta, and slim cases and results)."""
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "details"
    if stale.is_dir():  # pages of an earlier, larger run must not linger
        for old in stale.glob("page-*.html"):
            old.unlink()
    if isinstance(doc, dict):
        grouped = by_case(doc)
        meta, count = doc["meta"], len(doc["cases"])
        items: Iterator[tuple[dict[str, Any], list[dict[str, Any]]]] = (
            (c, grouped.get(c["id"], [])) for c in doc["cases"])
    else:
        meta, count, items = doc.meta, doc.case_count, doc.items()
    cases: list[dict[str, Any]] = []
    results: list[Any] = []  # records, or Slim summaries of them past PAGE_SIZE cases
    if count <= PAGE_SIZE:  # small: everything on one page, read whole
        for case, rs in items:
            cases.append(case)
            results.extend(rs)
        summary = {"meta": meta, "cases": cases, "results": results}
        write_html(out / "index.html", summary)
    else:
        pages: list[dict[str, Any]] = []
        where: dict[str, str] = {}
        chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for case, rs in items:
            chunk.append((case, rs))
            cases.append({k: case.get(k) for k in SLIM_CASE})
            results.extend(Slim(r) for r in rs)
            if len(chunk) == PAGE_SIZE:
                _flush(out, chunk, pages, where)
        if chunk:
            _flush(out, chunk, pages, where)
        summary = {"meta": meta, "cases": cases, "results": results}
        write_html(out / "index.html", summary, pages, where)
    (out / "junit.xml").write_text(render_junit(summary), encoding="utf-8")
    return summary


class Slim:
    """What the index matrix, junit.xml and the closing table need of one result; read like the
    record it came from (r.verdict, r["verdict"], r.get("reason"))."""

    __slots__ = SLIM_RESULT + ("max_abs",)

    def __init__(self, r: dict[str, Any]) -> None:
        for k in SLIM_RESULT:
            v = r.get(k)
            setattr(self, k, sys.intern(v) if isinstance(v, str) and k in ("framework", "device", "verdict") else v)
        self.max_abs = ((r.get("comparison") or {}).get("output") or {}).get("max_abs")

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


def _flush(out: Path, chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]], pages: list[dict[str, Any]],
           where: dict[str, str]) -> None:
    href = f"details/page-{len(pages) + 1:03d}.html"
    first, last = chunk[0][0]["order"] + 1, chunk[-1][0]["order"] + 1
    pages.append({"href": href, "first": first, "last": last})
    for case, _ in chunk:
        where[case["id"]] = href
    (out / href).parent.mkdir(parents=True, exist_ok=True)
    write_page(out / href, [c for c, _ in chunk], {c["id"]: rs for c, rs in chunk}, first, last)
    chunk.clear()


__all__ = ["render_all", "render_html", "render_junit"]
