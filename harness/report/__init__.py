"""Reporters: read a results document, write index.html and junit.xml. They run no framework.

A run's records are read back a case at a time, twice: the first pass writes the details pages
and counts (the index's summary tables and filters, junit.xml's totals), the second streams the
index matrix and junit.xml's testcases. Nothing proportional to the run is held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.report.html import Row, Tally, by_case, render_html, tallied, write_html, write_page
from harness.report.junit import junit_foot, junit_head, junit_testcases, render_junit
from harness.results import Stored

PAGE_SIZE = 300  # cases per details page once a run has more than this

Items = Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]


def render_all(doc: dict[str, Any] | Stored, out: Path, baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write index.html (+ details/page-NNN.html past PAGE_SIZE cases) and junit.xml; return
    the summary they were made from (Tally.summary). `baseline` (from `run --baseline`): a banner
    {"path", "summary", "href"}, {"changed": {(case id, framework, device): {"kinds", "href"}}} and
    {"cases": {case id: {"kinds", "href"}}} (cases whose definition changed), which mark each changed
    result and link it to the diff page."""
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "details"
    if stale.is_dir():  # pages of an earlier, larger run must not linger
        for old in stale.glob("page-*.html"):
            old.unlink()
    items: Callable[[], Items]
    if isinstance(doc, dict):
        grouped = by_case(doc)
        meta, count = doc["meta"], len(doc["cases"])
        items = lambda: ((c, grouped.get(c["id"], [])) for c in doc["cases"])  # noqa: E731
    else:
        meta, count, items = doc.meta, doc.case_count, doc.items
    if baseline:
        unmarked = items
        # A small run's details are on index.html; a large run's on details/, one folder down.
        items = lambda: _marked(unmarked(), baseline, "" if count <= PAGE_SIZE else "../")  # noqa: E731
    sections: list[Row] | None = None
    pages: list[dict[str, Any]] = []
    if count <= PAGE_SIZE:  # small: everything on one page, read once
        tally, sections = tallied(meta, items())
    else:
        tally = Tally(meta)
        pages = _details(out, items(), tally)
    with open(out / "junit.xml", "w", encoding="utf-8") as junit:
        junit.write(junit_head(tally.counts(), meta.get("duration", 0)))

        def rows() -> Iterator[Row]:
            """The second pass: each case's matrix row, its testcases written as it goes by."""
            for case, rs, href in sections if sections is not None else _rows(_marked(items(), baseline, "")):
                junit.write(junit_testcases(case, rs))
                yield case, rs, href

        write_html(out / "index.html", tally, rows(), pages, sections, PAGE_SIZE, baseline)
        junit.write(junit_foot())
    return tally.summary()


def _marked(items: Items, baseline: dict[str, Any] | None, prefix: str) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each result that changed since the baseline gets `changed`: its kinds of change and a link
    to them on the diff page (relative to the page the result is shown on)."""
    changed = (baseline or {}).get("changed") or {}
    cases = (baseline or {}).get("cases") or {}  # cases whose definition changed: every result of theirs
    for case, rs in items:
        for r in rs:
            marks = [m for m in (changed.get((r["case_id"], r["framework"], r["device"])), cases.get(r["case_id"])) if m]
            if marks:
                r["changed"] = {"kinds": [k for m in marks for k in m["kinds"]], "href": prefix + marks[0]["href"]}
        yield case, rs


def _details(out: Path, items: Items, tally: Tally) -> list[dict[str, Any]]:
    """First pass: the details pages, PAGE_SIZE cases each, and the tally."""
    pages: list[dict[str, Any]] = []
    chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for case, rs in items:
        tally.add(case, rs)
        chunk.append((case, rs))
        if len(chunk) == PAGE_SIZE:
            _flush(out, chunk, pages)
    if chunk:
        _flush(out, chunk, pages)
    return pages


def _rows(items: Items) -> Iterator[Row]:
    for i, (case, rs) in enumerate(items):
        yield case, rs, _href(i // PAGE_SIZE)


def _href(page: int) -> str:
    return f"details/page-{page + 1:03d}.html"


def _flush(out: Path, chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]], pages: list[dict[str, Any]]) -> None:
    href = _href(len(pages))
    first, last = chunk[0][0]["order"] + 1, chunk[-1][0]["order"] + 1
    pages.append({"href": href, "first": first, "last": last})
    (out / href).parent.mkdir(parents=True, exist_ok=True)
    write_page(out / href, chunk, first, last)
    chunk.clear()


__all__ = ["render_all", "render_html", "render_junit", "Tally"]
