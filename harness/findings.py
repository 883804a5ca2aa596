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


def _shared(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """op, dtype, dims and the parameters whose value is the same in every case of a group."""
    from harness.normalise import PARAMS_FOR_OP

    rows = [{"op": c["op"], "dtype": c["input"]["dtype"], "spatial dims": len(c["input"]["shape"]) - 2,
             **{k: v for k, v in c["params"].items() if k in PARAMS_FOR_OP.get(c["op"], ()) or
                (k == "padding" and "padding" in PARAMS_FOR_OP.get(c["op"], ()))}} for c in cases]
    keys = set(rows[0]).intersection(*rows[1:])
    return {k: rows[0][k] for k in sorted(keys) if all(r[k] == rows[0][k] for r in rows)}


def collect(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(divergence groups, unsupported groups)."""
    cases = {c["id"]: c for c in doc["cases"]}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    unsupported: dict[tuple[str, str], list[str]] = {}
    for r in doc["results"]:
        if r["raw_verdict"] in DIVERGENT:
            groups.setdefault(_key(r), []).append(r)
        elif r["raw_verdict"] == "unsupported":
            unsupported.setdefault((r["framework"], r["reason"]), []).append(r["case_id"])
    out = []
    for (fw, verdict, why), rs in sorted(groups.items()):
        members = [cases[r["case_id"]] for r in rs if r["case_id"] in cases]
        # An interrupted run keeps the results of cases it never finished, without their case record
        # (so without a size): then the first of their ids stands for the group.
        smallest = min(members, key=lambda c: (_size(c), c["id"]))["id"] if members else min(r["case_id"] for r in rs)
        # The part that diverged: the output, else the indices or gradient (a tie_break).
        outs: list[dict[str, Any]] = [next((c[p] for p in ("output", "indices", "grad") if (c.get(p) or {}).get("mismatches")), {})
                for c in ((r.get("comparison") or {}) for r in rs)]
        worst = max((o.get("max_abs") or 0.0 for o in outs), default=0.0)
        nonfinite = sum(o.get("nan_mismatches", 0) + o.get("inf_mismatches", 0) for o in outs)
        out.append({"framework": fw, "verdict": verdict, "explanation": why, "count": len(rs),
                    "devices": sorted({r["device"] for r in rs}), "smallest": smallest,
                    "trigger": _shared(members) if members else {}, "max_abs": worst, "nonfinite": nonfinite,
                    "links": sorted({(r.get("expectation") or {}).get("link") or "" for r in rs} - {""}),
                    "known": all(r["verdict"] == "known_divergence" or verdict == "tie_break" for r in rs),
                    "machine_dependent": any((r.get("expectation") or {}).get("machine_dependent") for r in rs)})
    unsup = [{"framework": fw, "reason": why, "count": len(ids), "example": ids[0]}
             for (fw, why), ids in sorted(unsupported.items())]
    return out, unsup


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
