"""junit.xml: one testcase per (case, framework, device), so CI shows verdicts natively.

Written as text a testcase at a time (an ElementTree of a large run costs more memory than the
run itself)."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from harness.spec import ACCEPTABLE

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def _attr(value: Any) -> str:
    return quoteattr(_NOT_XML.sub("?", str(value)))


def _text(value: Any) -> str:
    return escape(_NOT_XML.sub("?", str(value)))


def render_junit(doc: dict[str, Any]) -> str:
    results = doc["results"]
    sources = {c["id"]: str(c.get("source") or "").split(":")[0] for c in doc["cases"]}
    failures = sum(r["verdict"] not in ACCEPTABLE and r["verdict"] != "error" for r in results)
    errors = sum(r["verdict"] == "error" for r in results)
    skipped = sum(r["verdict"] in ("skipped", "unsupported") for r in results)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<testsuite name="pool-parity" tests="{len(results)}" failures="{failures}" errors="{errors}" '
           f'skipped="{skipped}" time="{doc["meta"].get("duration", 0):.3f}">']
    for r in results:
        name = f"{r['case_id']}[{r['framework']}-{r['device']}]"
        head = (f'  <testcase classname={_attr(sources.get(r["case_id"]) or "cases")} name={_attr(name)} '
                f'time="{r.get("seconds") or 0:.6f}"')
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
            out.append(head + " />")
            continue
        out.append(f"{head}>\n    {body}\n  </testcase>")
    out.append("</testsuite>\n")
    return "\n".join(out)
