"""index.html: a self-contained page rendered with Jinja2 (autoescape on)."""

from __future__ import annotations

import datetime
from typing import Any

import jinja2

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


_ENV.filters["fmt"] = _fmt


def render_html(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    by_case: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        by_case.setdefault(r["case_id"], []).append(r)
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
        worst=lambda rs: max((r.get("comparison", {}).get("output", {}).get("max_abs") or 0.0 for r in rs), default=0.0),
    )
