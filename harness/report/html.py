"""index.html: a self-contained page rendered with Jinja2 (autoescape on)."""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from harness import repro
from harness.findings import Findings
from harness.report import window
from harness.report.divergence_map import DivergenceMap
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


def result_id(r: dict[str, Any]) -> str:
    """A result's element id, the target of deep links: `case-id/framework-device`."""
    return f"{r['case_id']}/{r['framework']}-{r['device']}"


def _fragment(text: str) -> str:
    """`#...` for an element id (percent-encoded; '/' kept readable)."""
    return "#" + quote(text, safe="/-_.~")


def one_line(text: str | None, limit: int = 240) -> str:
    line = (text or "").strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _repro_name(r: dict[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"repro-{r['case_id']}-{r['framework']}") + ".py"


def _repro_script(case: dict[str, Any], r: dict[str, Any]) -> str:
    """The script `pool-parity repro` writes for this result: input, the code that ran and, when
    the case record carries the reference, the comparison with it."""
    out = (r.get("comparison") or {}).get("output") or {}
    reference = case.get("reference_code", "") if out else ""
    return repro.script(case["id"], r["framework"], r["device"], case.get("input_code", ""), r["repro"], reference,
                        (out.get("rtol", 0.0), out.get("atol", 0.0)))


def _data_url(text: str) -> str:
    """A download link's target: the script itself, so it works offline and without JavaScript."""
    return "data:text/x-python;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def _cells(results: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any] | None]:
    """A case's results in matrix column order (None where a framework-device has none)."""
    by = {f"{r['framework']}-{r['device']}": r for r in results}
    return [by.get(col) for col in columns]


def _all_pass(cells: list[dict[str, Any] | None]) -> bool:
    """Every column has a result, and each passed (the matrix writes one cell for them)."""
    return all(r is not None and r["verdict"] == "pass" for r in cells)


def _noteworthy(cells: list[dict[str, Any] | None]) -> bool:
    """Some result is neither a pass nor unsupported or skipped (the matrix links those)."""
    return any(r is not None and r["verdict"] not in ("pass", "unsupported", "skipped") for r in cells)


def _focus_values(case: dict[str, Any], w: dict[str, Any]) -> dict[str, Any]:
    """Every framework's value at the element a window shows (the case record's `focus`)."""
    return next((f["values"] for f in case.get("focus") or [] if f["at"] == w["at"]), {})


_ENV.filters["fmt"] = _fmt
_ENV.filters["heatmap"] = svg_heatmap
_ENV.filters["fragment"] = _fragment
_ENV.filters["one_line"] = one_line
_ENV.globals.update(result_id=result_id, repro_name=_repro_name, repro_script=_repro_script, data_url=_data_url,
                    wv_panels=window.panels, wv_outputs=window.outputs, wv_caption=window.caption,
                    wv_defs=window.DEFS, focus_values=_focus_values, cells=_cells,
                    all_pass=_all_pass, noteworthy=_noteworthy)


Row = tuple[dict[str, Any], list[dict[str, Any]], str]  # case, its results, href of its details page
SHOWN_FAILURES = 20  # failing results the command line lists by name
LISTED_FAILURES = 1000  # failing results index.html lists (the matrix filter finds any more)
MATRIX_CHUNK = 500  # matrix rows per separately laid-out block


class Tally:
    """What the first pass learns: counts per framework-device and verdict, the ops and tags
    the index filters on, the failing results, the divergence clusters and their map."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.cases = self.results = 0
        self.table: dict[str, dict[str, int]] = {}
        self.ops: set[str] = set()
        self.tags: set[str] = set()
        self.failing: list[dict[str, Any]] = []  # each with the case's position in the report
        self.failing_count = 0
        self.findings = Findings()
        self.where = DivergenceMap()

    def add(self, case: dict[str, Any], results: list[dict[str, Any]]) -> None:
        position = self.cases
        self.cases += 1
        self.ops.add(case["op"])
        self.tags.update(case.get("tags") or ())
        self.findings.add(case, results, position)
        self.where.add(case, results)
        for r in results:
            self.results += 1
            row = self.table.setdefault(f"{r['framework']}-{r['device']}", {})
            row[r["verdict"]] = row.get(r["verdict"], 0) + 1
            if r["verdict"] not in ACCEPTABLE:
                self.failing_count += 1
                if len(self.failing) < LISTED_FAILURES:
                    self.failing.append({**{k: r.get(k) for k in ("case_id", "framework", "device", "verdict", "reason")},
                                         "position": position, "worst": _max_abs(r)})

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for row in self.table.values():
            for v, n in row.items():
                total[v] = total.get(v, 0) + n
        return total

    def summary(self) -> dict[str, Any]:
        failing = [{k: f[k] for k in ("case_id", "framework", "device", "verdict", "reason")}
                   for f in self.failing[:SHOWN_FAILURES]]
        return {"meta": self.meta, "case_count": self.cases, "result_count": self.results, "table": self.table,
                "failing": failing, "failing_count": self.failing_count}


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
    return _ENV.get_template("index.html.j2").render(**_index_context(tally, rows, [], rows, 0))


def write_html(path: Path, tally: Tally, rows: Iterable[Row], pages: list[dict[str, Any]],
               sections: list[Row] | None, page_size: int, baseline: dict[str, Any] | None = None) -> None:
    """index.html streamed to the file: `rows` (the matrix) is read once, as it is written;
    `sections` (the details of a small run) is shown on the page when given; otherwise the
    details are on `pages` of `page_size` cases. `baseline`: run --baseline's banner and marks."""
    _ENV.get_template("index.html.j2").stream(**_index_context(tally, rows, pages, sections, page_size, baseline)).dump(
        str(path), encoding="utf-8")


def _index_context(tally: Tally, rows: Iterable[Row], pages: list[dict[str, Any]],
                   sections: list[Row] | None, page_size: int,
                   baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = tally.meta
    started = meta.get("started")
    clusters, unsupported = tally.findings.groups()
    counts = tally.counts()

    def page_of(position: int | None) -> str:
        """The file holding the details of the case at `position` ("" for this page)."""
        if not pages or position is None:
            return ""
        return pages[min(position // page_size, len(pages) - 1)]["href"]

    return dict(
        meta=meta,
        case_count=tally.cases,
        result_count=tally.results,
        rows=rows,
        sections=sections or [],
        columns=sorted(tally.table),
        per_column=tally.table,
        counts=counts,
        verdicts=sorted(counts),
        verdict_order=sorted(counts, key=lambda v: (v in ACCEPTABLE, v not in ("pass",), v)),
        unacceptable=sorted(v for v in counts if v not in ACCEPTABLE),
        ops=sorted(tally.ops),
        tags=sorted(tally.tags),
        failing=tally.failing,
        failing_count=tally.failing_count,
        clusters=clusters,
        unsupported=unsupported,
        where=tally.where,
        page_of=page_of,
        started=datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(timespec="seconds") if started else "-",
        pages=pages,
        page_size=page_size,
        matrix_chunk=MATRIX_CHUNK,
        baseline=baseline,  # run --baseline: the banner that links the diff
        worst=lambda rs: max((_max_abs(r) or 0.0 for r in rs), default=0.0),
    )
