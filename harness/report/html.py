"""index.html: a self-contained page rendered with Jinja2 (autoescape on)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
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


Row = tuple[dict[str, Any], list[dict[str, Any]], str]  # case, its results, href of its details page


def write_page(path: Path, chunk: list[tuple[dict[str, Any], list[dict[str, Any]]]], first: int, last: int) -> None:
    _ENV.get_template("page.html.j2").stream(chunk=chunk, first=first, last=last).dump(str(path), encoding="utf-8")


def _max_abs(r: dict[str, Any]) -> float | None:
    """Output max |diff| of a result record."""
    return ((r.get("comparison") or {}).get("output") or {}).get("max_abs")  # type: ignore[no-any-return]


def by_case(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped under their case id, in document order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        out.setdefault(r["case_id"], []).append(r)
    return out


def render_html(doc: dict[str, Any]) -> str:
    """index.html of a results document held in memory, details included."""
    from harness.report import Tally

    grouped, tally = by_case(doc), Tally(doc["meta"])
    rows = [(c, grouped.get(c["id"], []), "") for c in doc["cases"]]
    for case, rs, _ in rows:
        tally.add(case, rs)
    return _ENV.get_template("index.html.j2").render(**_index_context(tally, rows, [], rows))


def write_html(path: Path, tally: Any, rows: Iterable[Row], pages: list[dict[str, Any]],
               sections: list[Row] | None) -> None:
    """index.html streamed to the file: `rows` (the matrix) is read once, as it is written;
    `sections` (the details of a small run) is shown on the page when given."""
    _ENV.get_template("index.html.j2").stream(**_index_context(tally, rows, pages, sections)).dump(
        str(path), encoding="utf-8")


def _index_context(tally: Any, rows: Iterable[Row], pages: list[dict[str, Any]],
                   sections: list[Row] | None) -> dict[str, Any]:
    meta = tally.meta
    started = meta.get("started")
    return dict(
        meta=meta,
        case_count=tally.cases,
        rows=rows,
        sections=sections or [],
        columns=sorted(tally.table),
        per_column=tally.table,
        verdicts=sorted(tally.counts()),
        ops=sorted(tally.ops),
        tags=sorted(tally.tags),
        acceptable=ACCEPTABLE,
        started=datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(timespec="seconds") if started else "-",
        pages=pages,
        worst=lambda rs: max((_max_abs(r) or 0.0 for r in rs), default=0.0),
    )
