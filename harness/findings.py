"""`pool-parity findings`: each distinct divergence in a results document, as markdown.

A divergence is a result whose (raw) verdict is not `pass`; results are grouped by framework,
verdict and explanation (the case's `expect:` reason, or the framework's error). For each group:
the frameworks/devices, the parameters every case in it shares (what triggers it), the smallest
case showing it, the largest difference, and the explanation. Generated from results only.
"""

from __future__ import annotations

import math
from typing import Any

DIVERGENT = ("numeric_mismatch", "shape_mismatch", "dtype_mismatch", "error", "tie_break")


def _key(r: dict[str, Any]) -> tuple[str, str, str]:
    exp = r.get("expectation") or {}
    if r["raw_verdict"] == "tie_break":
        rules = sorted({(r.get("comparison") or {}).get(p, {}).get("tie_rule", "") for p in ("indices", "grad")} - {""})
        why = f"ties resolved by the '{'/'.join(rules)}' rule (reference: first maximal tap)"
    else:
        why = exp.get("reason") or r.get("error") or "UNEXPLAINED: " + (r.get("reason") or "")
    return r["framework"], r["raw_verdict"], why


def _size(case: dict[str, Any]) -> int:
    return math.prod(case["input"]["shape"])


def _row(case: dict[str, Any]) -> dict[str, Any]:
    """op, dtype, dims and the parameters that apply to the case's op."""
    from harness.normalise import PARAMS_FOR_OP

    return {"op": case["op"], "dtype": case["input"]["dtype"], "spatial dims": len(case["input"]["shape"]) - 2,
            **{k: v for k, v in case["params"].items() if k in PARAMS_FOR_OP.get(case["op"], ()) or
               (k == "padding" and "padding" in PARAMS_FOR_OP.get(case["op"], ()))}}


class _Group:
    """One divergence group, accumulated a result at a time: nothing per member is kept but the
    parameters all members share so far and the smallest case."""

    def __init__(self) -> None:
        self.count = 0
        self.devices: set[str] = set()
        self.shared: dict[str, Any] | None = None
        self.smallest: tuple[int, str, Any] | None = None
        self.worst = 0.0
        self.nonfinite = 0
        self.links: set[str] = set()
        self.known = True
        self.machine_dependent = False

    def add(self, case: dict[str, Any] | None, r: dict[str, Any], verdict: str, where: Any) -> None:
        self.count += 1
        self.devices.add(r["device"])
        if case is not None:
            row = _row(case)
            self.shared = row if self.shared is None else {k: v for k, v in self.shared.items()
                                                          if k in row and row[k] == v}
            size = (_size(case), case["id"], where)
            if self.smallest is None or size[:2] < self.smallest[:2]:
                self.smallest = size
        # The part that diverged: the output, else the indices or gradient (a tie_break).
        c = r.get("comparison") or {}
        part: dict[str, Any] = next((c[p] for p in ("output", "indices", "grad") if (c.get(p) or {}).get("mismatches")), {})
        self.worst = max(self.worst, part.get("max_abs") or 0.0)
        self.nonfinite += part.get("nan_mismatches", 0) + part.get("inf_mismatches", 0)
        expectation = r.get("expectation") or {}
        if expectation.get("link"):
            self.links.add(expectation["link"])
        self.machine_dependent = self.machine_dependent or bool(expectation.get("machine_dependent"))
        self.known = self.known and (r["verdict"] == "known_divergence" or verdict == "tie_break")


class Findings:
    """Divergence and unsupported groups of a run, fed a case and its results at a time (the
    report does so while it streams a large run; `collect` for a document held whole). `where`,
    given with a case, comes back as the group's `smallest_where` (the report: its page)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, str], _Group] = {}
        self._unsupported: dict[tuple[str, str], list[Any]] = {}  # (framework, reason): [count, example]

    def add(self, case: dict[str, Any] | None, results: list[dict[str, Any]], where: Any = None) -> None:
        for r in results:
            if r["raw_verdict"] in DIVERGENT:
                key = _key(r)
                self._groups.setdefault(key, _Group()).add(case, r, key[1], where)
            elif r["raw_verdict"] == "unsupported":
                entry = self._unsupported.setdefault((r["framework"], r["reason"]), [0, r["case_id"]])
                entry[0] += 1

    def groups(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(divergence groups, unsupported groups), each sorted."""
        out = []
        for (fw, verdict, why), g in sorted(self._groups.items()):
            smallest = g.smallest or (0, "", None)
            out.append({"framework": fw, "verdict": verdict, "explanation": why, "count": g.count,
                        "devices": sorted(g.devices), "smallest": smallest[1], "smallest_where": smallest[2],
                        "trigger": dict(sorted((g.shared or {}).items())), "max_abs": g.worst,
                        "nonfinite": g.nonfinite, "links": sorted(g.links), "known": g.known,
                        "machine_dependent": g.machine_dependent})
        unsup = [{"framework": fw, "reason": why, "count": n, "example": example}
                 for (fw, why), (n, example) in sorted(self._unsupported.items())]
        return out, unsup


def collect(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(divergence groups, unsupported groups) of a document held in memory."""
    cases = {c["id"]: c for c in doc["cases"]}
    findings = Findings()
    for r in doc["results"]:
        findings.add(cases.get(r["case_id"]), [r])
    return findings.groups()


def machine_dependent(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Results whose expectation lists several outcomes, with the one this run's machine gave."""
    rows = []
    for r in doc["results"]:
        exp = r.get("expectation") or {}
        if exp.get("machine_dependent"):
            declared = exp["verdict"] if isinstance(exp["verdict"], str) else " | ".join(exp["verdict"])
            rows.append({"case_id": r["case_id"], "framework": r["framework"], "device": r["device"],
                         "here": r["raw_verdict"], "declared": declared, "condition": exp.get("condition") or "",
                         "reason": exp.get("reason") or "", "link": exp.get("link") or ""})
    return rows


def render_markdown(doc: dict[str, Any]) -> str:
    found, unsup = collect(doc)
    meta = doc["meta"]
    versions = "; ".join(f"{fw} " + ", ".join(f"{k} {v}" for k, v in (info.get("versions") or {}).items())
                         for fw, info in meta["frameworks"].items())
    lines = [
        "# Findings",
        "",
        "Generated by `pool-parity findings` from a run's results.json; do not edit by hand.",
        "",
        f"Run: {len(doc['cases'])} cases, {len(doc['results'])} results, {meta['environment']['platform']}; "
        f"{versions}; `TF_ENABLE_ONEDNN_OPTS`={meta['environment']['env'].get('TF_ENABLE_ONEDNN_OPTS') or 'unset'}"
        + "".join(f", TF oneDNN ops {info['env']['oneDNN ops']} ({fw})" for fw, info in meta["frameworks"].items()
                  if (info.get("env") or {}).get("oneDNN ops")) + ".",
        "",
        f"## Divergences ({len(found)})",
        "",
    ]
    if not found:
        lines.append("None: every framework agrees with the reference on every supported case.")
    for i, f in enumerate(found, 1):
        trigger = ", ".join(f"{k}={v}" for k, v in f["trigger"].items())
        status = "" if f["known"] else " **(not declared in `expect:`)**"
        if f["machine_dependent"]:
            status += " (machine-dependent: this machine's outcome; see below)"
        lines += [
            f"### {i}. {f['framework']}: {f['verdict']}{status}",
            "",
            f"- **Explanation:** {f['explanation']}",
            f"- **Shared by all {f['count']} results:** {trigger or '-'} (devices: {', '.join(f['devices'])})",
            f"- **Smallest case:** `{f['smallest']}` (`pool-parity explain {f['smallest']}`)",
            "- **Magnitude:** " + "; ".join(
                [f"largest |diff| {f['max_abs']:.3g}"] * bool(f["max_abs"])
                + [f"{f['nonfinite']} NaN/inf misplaced"] * bool(f["nonfinite"]) or ["no output to compare"]),
        ]
        lines += [f"- **Link:** {link}" for link in f["links"]]
        lines.append("")
    varying = machine_dependent(doc)
    if varying:
        lines += ["## Machine-dependent outcomes", "",
                  "Declared with several accepted verdicts because the outcome depends on the machine; "
                  "the column *here* is what this run's machine gave.", "",
                  "| case | framework | here | declared | depends on | reason |", "|---|---|---|---|---|---|"]
        lines += [f"| `{m['case_id']}` | {m['framework']}-{m['device']} | {m['here']} | {m['declared']} | "
                  f"{m['condition'] or '-'} | {m['reason']}" + (f" ({m['link']})" if m['link'] else "") + " |"
                  for m in varying]
        lines.append("")
    lines += ["## Not supported natively or by emulation", "", "| framework | reason | results | example |",
              "|---|---|---|---|"]
    lines += [f"| {u['framework']} | {u['reason']} | {u['count']} | `{u['example']}` |" for u in unsup]
    return "\n".join(lines) + "\n"
