"""junit.xml: one testcase per (case, framework, device), so CI shows verdicts natively.

Written as text a case at a time (an ElementTree of a large run costs more memory than the run
itself)."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from harness.report.html import by_case
from harness.results import count_verdicts
from harness.spec import ACCEPTABLE

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def _attr(value: Any) -> str:
    return quoteattr(_NOT_XML.sub("?", str(value)))


def _text(value: Any) -> str:
    return escape(_NOT_XML.sub("?", str(value)))


def junit_head(counts: dict[str, int], duration: float) -> str:
    """The XML declaration and <testsuite> opening, from verdict counts."""
    failures = sum(n for v, n in counts.items() if v not in ACCEPTABLE and v != "error")
    skipped = counts.get("skipped", 0) + counts.get("unsupported", 0)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name="pool-parity" tests="{sum(counts.values())}" failures="{failures}" '
            f'errors="{counts.get("error", 0)}" skipped="{skipped}" time="{duration:.3f}">\n')


def junit_foot() -> str:
    return "</testsuite>\n"


def junit_testcases(case: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """One <testcase> per result of a case, classname = the case file."""
    classname = _attr(str(case.get("source") or "").split(":")[0] or "cases")
    out = []
    for r in results:
        name = f"{r['case_id']}[{r['framework']}-{r['device']}]"
        head = f'  <testcase classname={classname} name={_attr(name)} time="{r.get("seconds") or 0:.6f}"'
        verdict, reason = r["verdict"], r.get("reason") or ""
        if verdict in ("skipped", "unsupported"):
            body = f"<skipped message={_attr(f'{verdict}: {reason}')} />"
        elif verdict == "error":
            body = f'<error message={_attr(reason)} type="error">{_text(r.get("error") or reason)}</error>'
        elif verdict not in ACCEPTABLE:
            body = f"<failure message={_attr(f'{verdict}: {reason}')} type={_attr(verdict)}>{_text(reason)}</failure>"
        elif verdict in ("known_divergence", "tie_break"):
            body = f"<system-out>{_text(f'{verdict}: {reason}')}</system-out>"
        else:
            out.append(head + " />\n")
            continue
        out.append(f"{head}>\n    {body}\n  </testcase>\n")
    return "".join(out)


def render_junit(doc: dict[str, Any]) -> str:
    """junit.xml of a results document held in memory."""
    cases = {c["id"]: c for c in doc["cases"]}
    body = "".join(junit_testcases(cases.get(cid, {}), rs) for cid, rs in by_case(doc).items())
    return junit_head(count_verdicts(doc["results"]), doc["meta"].get("duration", 0)) + body + junit_foot()
