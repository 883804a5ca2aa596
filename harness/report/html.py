"""index.html: a self-contained page rendered with Jinja2 (autoescape on)."""

from __future__ import annotations

import datetime
from pathlib import Path
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


def write_page(path: Path, cases: list[dict[str, Any]], by_case: dict[str, list[dict[str, Any]]], first: int,
               last: int) -> None:
    _ENV.get_template("page.html.j2").stream(cases=cases, by_case=by_case, first=first, last=last).dump(
        str(path), encoding="utf-8")


def _max_abs(r: Any) -> float | None:
    """Output max |diff| of a result record (or of its report summary, which keeps just that)."""
    if hasattr(r, "max_abs"):
        return r.max_abs  # type: ignore[no-any-return]
    return ((r.get("comparison") or {}).get("output") or {}).get("max_abs")  # type: ignore[no-any-return]


def by_case(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped under their case id, in document order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        out.setdefault(r["case_id"], []).append(r)
    return out


def render_html(doc: dict[str, Any], pages: list[dict[str, Any]] | None = None,
                where: dict[str, str] | None = None) -> str:
    return _ENV.get_template("index.html.j2").render(**_index_context(doc, pages, where))


def write_html(path: Path, doc: dict[str, Any], pages: list[dict[str, Any]] | None = None,
               where: dict[str, str] | None = None) -> None:
    """index.html, streamed to the file (a large run's page is never held whole)."""
    _ENV.get_template("index.html.j2").stream(**_index_context(doc, pages, where)).dump(str(path), encoding="utf-8")


def _index_context(doc: dict[str, Any], pages: list[dict[str, Any]] | None,
                   where: dict[str, str] | None) -> dict[str, Any]:
    meta = doc["meta"]
    grouped = by_case(doc)
    where = where or {}
    columns = sorted({f"{r['framework']}-{r['device']}" for r in doc["results"]})
    per_column: dict[str, dict[str, int]] = {}
    for r in doc["results"]:
        col = per_column.setdefault(f"{r['framework']}-{r['device']}", {})
        col[r["verdict"]] = col.get(r["verdict"], 0) + 1
    started = meta.get("started")
    return dict(
        meta=meta,
        cases=doc["cases"],
        by_case=grouped,
        columns=columns,
        per_column=per_column,
        verdicts=sorted({r["verdict"] for r in doc["results"]}),
        acceptable=ACCEPTABLE,
        started=datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(timespec="seconds") if started else "-",
        pages=pages or [],
        link=lambda c: f"{where.get(c['id'], '')}#case-{c['order']}",
        worst=lambda rs: max((_max_abs(r) or 0.0 for r in rs), default=0.0),
    )
