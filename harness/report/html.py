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
SHOWN_FAILURES = 20  # failing results the summary lists by name


class Tally:
    """What the first pass learns: counts per framework-device and verdict, the ops and tags
    the index filters on, and the first failures."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.cases = self.results = 0
        self.table: dict[str, dict[str, int]] = {}
        self.ops: set[str] = set()
        self.tags: set[str] = set()
        self.failing: list[dict[str, Any]] = []
        self.failing_count = 0

    def add(self, case: dict[str, Any], results: list[dict[str, Any]]) -> None:
        self.cases += 1
        self.ops.add(case["op"])
        self.tags.update(case.get("tags") or ())
        for r in results:
            self.results += 1
            row = self.table.setdefault(f"{r['framework']}-{r['device']}", {})
            row[r["verdict"]] = row.get(r["verdict"], 0) + 1
            if r["verdict"] not in ACCEPTABLE:
                self.failing_count += 1
                if len(self.failing) < SHOWN_FAILURES:
                    self.failing.append({k: r.get(k) for k in ("case_id", "framework", "device", "verdict", "reason")})

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for row in self.table.values():
            for v, n in row.items():
                total[v] = total.get(v, 0) + n
        return total

    def summary(self) -> dict[str, Any]:
        return {"meta": self.meta, "case_count": self.cases, "result_count": self.results, "table": self.table,
                "failing": self.failing, "failing_count": self.failing_count}


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


def tallied(meta: dict[str, Any], pairs: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]) -> tuple[Tally, list[Row]]:
    """A small run read whole: its rows (all on the index page) and their tally."""
    tally, rows = Tally(meta), [(case, rs, "") for case, rs in pairs]
    for case, rs, _ in rows:
        tally.add(case, rs)
    return tally, rows


def render_html(doc: dict[str, Any]) -> str:
    """index.html of a results document held in memory, details included."""
    grouped = by_case(doc)
    tally, rows = tallied(doc["meta"], ((c, grouped.get(c["id"], [])) for c in doc["cases"]))
    return _ENV.get_template("index.html.j2").render(**_index_context(tally, rows, [], rows, None))


def write_html(path: Path, tally: Tally, rows: Iterable[Row], pages: list[dict[str, Any]],
               sections: list[Row] | None, baseline: dict[str, Any] | None = None) -> None:
    """index.html streamed to the file: `rows` (the matrix) is read once, as it is written;
    `sections` (the details of a small run) is shown on the page when given."""
    _ENV.get_template("index.html.j2").stream(**_index_context(tally, rows, pages, sections, baseline)).dump(
        str(path), encoding="utf-8")


def _index_context(tally: Tally, rows: Iterable[Row], pages: list[dict[str, Any]],
                   sections: list[Row] | None, baseline: dict[str, Any] | None) -> dict[str, Any]:
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
        baseline=baseline,  # run --baseline: the banner that links the diff
        worst=lambda rs: max((_max_abs(r) or 0.0 for r in rs), default=0.0),
    )
