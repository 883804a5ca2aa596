"""junit.xml: one testcase per (case, framework, device), so CI shows verdicts natively."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.spec import ACCEPTABLE


def render_junit(doc: dict[str, Any]) -> str:
    results = doc["results"]
    cases = {c["id"]: c for c in doc["cases"]}
    failures = sum(r["verdict"] not in ACCEPTABLE and r["verdict"] != "error" for r in results)
    errors = sum(r["verdict"] == "error" and r["verdict"] not in ACCEPTABLE for r in results)
    skipped = sum(r["verdict"] in ("skipped", "unsupported") for r in results)
    suite = ET.Element("testsuite", name="pool-parity", tests=str(len(results)), failures=str(failures),
                       errors=str(errors), skipped=str(skipped), time=f"{doc['meta'].get('duration', 0):.3f}")
    for r in results:
        source = cases.get(r["case_id"], {}).get("source", "").split(":")[0]
        tc = ET.SubElement(suite, "testcase", classname=source or "cases", name=f"{r['case_id']}[{r['framework']}-{r['device']}]",
                           time=f"{r.get('seconds') or 0:.6f}")
        verdict, reason = r["verdict"], r.get("reason") or ""
        if verdict in ("skipped", "unsupported"):
            ET.SubElement(tc, "skipped", message=f"{verdict}: {reason}")
        elif verdict == "error":
            ET.SubElement(tc, "error", message=reason, type="error").text = r.get("error") or reason
        elif verdict not in ACCEPTABLE:
            ET.SubElement(tc, "failure", message=f"{verdict}: {reason}", type=verdict).text = reason
        elif verdict in ("known_divergence", "tie_break"):
            ET.SubElement(tc, "system-out").text = f"{verdict}: {reason}"
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
