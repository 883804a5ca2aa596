"""One page of case x run (the version sets of `nox -s matrix`), each run diffed against the first.

Reads results only. A cell holds the run's verdicts for that case (one per framework-device)
and, when the case changed against the baseline run, the kinds of change (harness.diff): the
cell is highlighted and links the run's diff page when one was written beside the run
(RUN/diff/index.html, as `nox -s matrix` does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.diff import compare_runs
from harness.errors import HarnessError
from harness.report.diff import href
from harness.report.html import _ENV
from harness.results import read_results

# A cell's colour: the first of these kinds of change it has (the rest are listed in it).
SEVERE = ("verdict-change", "new-divergence", "case-removed", "result-removed")


def build(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The matrix document: columns (runs, their versions, their changes against the first run)
    and rows (cases in the first run's order, then cases only later runs have)."""
    names = list(runs)
    base = names[0]
    diffs = {n: compare_runs(runs[base], runs[n], names=(base, n)) for n in names[1:]}
    case_ids = list(dict.fromkeys(c["id"] for n in names for c in runs[n]["cases"]))
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for n in names:
        for r in runs[n]["results"]:
            cell = cells.setdefault((r["case_id"], n), _cell())
            cell["verdicts"][f"{r['framework']}-{r['device']}"] = r["verdict"]
    for n, diff in diffs.items():
        for r in diff["results"]:
            cell = cells[(r["case_id"], n)]
            kinds = list(dict.fromkeys(e["kind"] for e in r["changes"]))
            cell["changes"] = list(dict.fromkeys([*cell["changes"], *kinds]))
            cell["results"][r["label"]] = {"kinds": kinds, "href": href(r, page="")}  # fragment on the diff page
        for kind, entries in (("result-added", diff["results_added"]), ("result-removed", diff["results_removed"])):
            for r in entries:
                cell = cells.setdefault((r["case_id"], n), _cell())
                cell["changes"].append(kind)
                cell["results"][r["label"]] = {"kinds": [kind], "href": None}
        for kind, name in (("case-added", "added"), ("case-removed", "removed"), ("case-change", "changed")):
            for c in diff["cases"][name]:
                cells.setdefault((c["case_id"], n), _cell())["changes"].append(kind)
    columns = [{"name": n, "versions": _versions(runs[n]), "counts": diffs[n]["counts"] if n in diffs else None,
                "environment": diffs[n]["environment"] if n in diffs else []} for n in names]
    rows = [{"case_id": cid, "cells": {n: cells.get((cid, n)) for n in names}} for cid in case_ids]
    return {"baseline": base, "columns": columns, "rows": rows}


def _cell() -> dict[str, Any]:
    """One run's view of one case: verdict per framework-device, the kinds of change of the case,
    and per changed result its kinds and its place on the run's diff page."""
    return {"verdicts": {}, "changes": [], "results": {}}


def _common(verdicts: dict[str, str]) -> tuple[str | None, int]:
    """The verdict most results of a cell share, and how many: the cell says it once."""
    values = list(verdicts.values())
    top = max(set(values), key=lambda v: (values.count(v), v)) if values else None
    return top, values.count(top) if top else 0


def _versions(doc: dict[str, Any]) -> dict[str, str]:
    """Package versions of a run, one entry per package (a package two adapters share once)."""
    out: dict[str, str] = {}
    for info in doc["meta"]["frameworks"].values():
        out.update(info.get("versions") or {})
    return dict(sorted(out.items()))


def _changed(matrix: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(row["case_id"], n, cell) for row in matrix["rows"] for n, cell in row["cells"].items()
            if cell and cell["changes"]]


def render_markdown(matrix: dict[str, Any]) -> str:
    lines = [f"# Version matrix (changes against `{matrix['baseline']}`)", "",
             "| run | versions | changes against the baseline |", "|---|---|---|"]
    for col in matrix["columns"]:
        counts = "baseline" if col["counts"] is None else (
            ", ".join(f"{k} {n}" for k, n in col["counts"].items()) or "none")
        lines.append(f"| {col['name']} | " + ", ".join(f"{k} {v}" for k, v in col["versions"].items()) + f" | {counts} |")
    changed = _changed(matrix)
    lines += ["", f"## Changed cells ({len(changed)})", ""]
    if changed:
        lines += ["| case | run | changes | changed results | verdicts |", "|---|---|---|---|---|"]
        lines += [f"| `{cid}` | {n} | {', '.join(cell['changes'])} | "
                  + "; ".join(f"{k}: {', '.join(r['kinds'])}" for k, r in cell["results"].items()) + " | "
                  + ", ".join(f"{k} {v}" for k, v in cell["verdicts"].items()) + " |" for cid, n, cell in changed]
    else:
        lines.append("None: every run gives every case the results of the baseline.")
    return "\n".join(lines) + "\n"


def read_runs(paths: list[Path]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """{column name: (run directory, its results)}; a run's name is its directory's name."""
    runs = {}
    for path in paths:
        folder = path.parent if path.suffix == ".json" else path
        runs[folder.resolve().name] = (folder, read_results(path))
    if len(runs) != len(paths):
        raise HarnessError("matrix: two runs have the same name (their directory names must differ)")
    return runs


def write_matrix(runs: dict[str, tuple[Path, dict[str, Any]]], out: Path) -> str:
    """OUT/index.html, matrix.json and matrix.md; returns the terminal summary."""
    matrix = build({name: doc for name, (_, doc) in runs.items()})
    for col in matrix["columns"]:  # link each run's own diff page, when `pool-parity diff` wrote one beside it
        page = runs[col["name"]][0] / "diff" / "index.html"
        col["diff"] = os.path.relpath(page, out) if page.is_file() and col["counts"] is not None else None
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.json").write_text(json.dumps(matrix, indent=1) + "\n", encoding="utf-8")
    (out / "matrix.md").write_text(render_markdown(matrix), encoding="utf-8")
    _ENV.get_template("matrix.html.j2").stream(matrix=matrix, severe=SEVERE, common=_common).dump(
        str(out / "index.html"), encoding="utf-8")
    lines = [f"matrix: {len(matrix['columns'])} runs, {len(matrix['rows'])} cases, baseline {matrix['baseline']}"]
    lines += [f"  {c['name']}: " + (", ".join(f"{k} {n}" for k, n in c["counts"].items()) or "no change")
              for c in matrix["columns"] if c["counts"] is not None]
    return "\n".join([*lines, f"page: {out / 'index.html'}"])
