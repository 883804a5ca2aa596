"""index.html: a self-contained page rendered with Jinja2 (autoescape on)."""

from __future__ import annotations

import datetime
from typing import Any

import jinja2
from markupsafe import Markup

from harness.spec import ACCEPTABLE

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def svg_heatmap(grid: list[list[float]], cell: int = 8) -> Markup:
    """|diff| grid as an inline SVG: white = equal, dark red = the largest difference."""
    top = max((v for row in grid for v in row), default=0.0) or 1.0
    h, w = len(grid), len(grid[0]) if grid else 0
    rects = []
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v > 0:
                shade = int(255 * (1 - min(v / top, 1.0) ** 0.5))
                rects.append(f'<rect x="{j * cell}" y="{i * cell}" width="{cell}" height="{cell}" '
                             f'fill="rgb(255,{shade},{shade})"><title>{v:.3g}</title></rect>')
    body = "".join(rects)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * cell}" height="{h * cell}" '
                  f'style="border:1px solid #999" role="img" aria-label="|diff| heatmap">{body}</svg>')


_ENV.filters["fmt"] = _fmt
_ENV.filters["heatmap"] = svg_heatmap


PAGE_SIZE = 300  # cases per details page once a run has more than this


def render_pages(doc: dict[str, Any]) -> dict[str, str]:
    """{relative path: html}: index.html, plus details/page-NNN.html for large runs."""
    by_case = _by_case(doc)
    cases = doc["cases"]
    pages: dict[str, str] = {}
    chunks = [cases[i : i + PAGE_SIZE] for i in range(0, len(cases), PAGE_SIZE)] if len(cases) > PAGE_SIZE else []
    where: dict[str, str] = {}
    meta_pages = []
    for k, chunk in enumerate(chunks, start=1):
        href = f"details/page-{k:03d}.html"
        first, last = chunk[0]["order"] + 1, chunk[-1]["order"] + 1
        meta_pages.append({"href": href, "first": first, "last": last})
        for c in chunk:
            where[c["id"]] = href
        pages[href] = _ENV.get_template("page.html.j2").render(cases=chunk, by_case=by_case, first=first, last=last)
    pages["index.html"] = render_html(doc, meta_pages, where)
    return pages


def _by_case(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_case: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        by_case.setdefault(r["case_id"], []).append(r)
    return by_case


def render_html(doc: dict[str, Any], pages: list[dict[str, Any]] | None = None,
                where: dict[str, str] | None = None) -> str:
    meta = doc["meta"]
    by_case = _by_case(doc)
    where = where or {}
    columns = sorted({f"{r['framework']}-{r['device']}" for r in doc["results"]})
    per_column: dict[str, dict[str, int]] = {}
    for r in doc["results"]:
        col = per_column.setdefault(f"{r['framework']}-{r['device']}", {})
        col[r["verdict"]] = col.get(r["verdict"], 0) + 1
    started = meta.get("started")
    return _ENV.get_template("index.html.j2").render(
        meta=meta,
        cases=doc["cases"],
        by_case=by_case,
        columns=columns,
        per_column=per_column,
        verdicts=sorted({r["verdict"] for r in doc["results"]}),
        acceptable=ACCEPTABLE,
        started=datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(timespec="seconds") if started else "-",
        pages=pages or [],
        link=lambda c: f"{where.get(c['id'], '')}#case-{c['order']}",
        worst=lambda rs: max((r.get("comparison", {}).get("output", {}).get("max_abs") or 0.0 for r in rs), default=0.0),
    )
