"""Two results documents -> what changed, per (case, framework, device).

Reads results only, like report/: no framework is imported. The inputs are what
`harness.results.read_results` accepts (a results.json, a run directory, a merged shard report).
Results are matched by case id and (framework, device); a renamed case shows as removed + added.
`between` cuts one run into two sides (two devices, or two frameworks) so that the same
comparison answers "what differs between cpu and gpu" or "between keras and keras-jax".

Every change is an event with a `kind` from KINDS; `--fail-on` (parse_fail_on) lists the kinds,
or drift thresholds, that make the exit status 1. The vocabulary and the default are in docs/diff.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.findings import DIVERGENT, collect
from harness.results import read_results

SCHEMA = "pool-parity-diff/1"

# Event kinds, in the order a report lists them; each is also a --fail-on item.
KINDS = ("verdict-change", "raw-verdict-change", "new-divergence", "vanished-divergence", "mode-change",
         "conversion-change", "drift", "shape-change", "dtype-change", "expectation-change", "error-change",
         "case-added", "case-removed", "case-change", "result-added", "result-removed", "new-finding",
         "vanished-finding", "version-change", "environment-change")
# Verdicts and new divergences are what a reader of the report acts on; numbers that moved by more
# than 4 ULP mean the framework computes differently, not that it rounded once more. Version and
# environment changes are what a pin bump is expected to show, so they inform without failing.
DEFAULT_FAIL_ON = "verdict-change,new-divergence,drift>4ulp"

CASE_FIELDS = ("op", "input", "params", "grad", "ref_shape")  # compared between the two sides' case records
STATS = ("max_abs", "max_ulp", "mismatches", "nan_mismatches", "inf_mismatches", "total")
_LOG_PATH = re.compile(r"\S*/logs/([\w.+-]+\.log)\b")
NUMERIC_PARTS = ("output", "grad")  # indices are compared exactly: a change there is a verdict change


@dataclass(frozen=True)
class Between:
    """Which field the two sides of one run differ in, and its value on each side."""

    field: str  # "device" or "framework"
    old: str
    new: str


def between(doc: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any], Between]:
    """(old side, new side, how they were cut) of one run: two devices or two frameworks of it."""
    if len(names) != 2 or names[0] == names[1]:
        raise HarnessError(f"--between needs two different names, A,B; got {','.join(names) or 'nothing'}")
    seen = {f: sorted({r[f] for r in doc["results"]}) for f in ("device", "framework")}
    for field in ("device", "framework"):
        if set(names) <= set(seen[field]):
            cut = Between(field, names[0], names[1])
            return _side(doc, field, cut.old), _side(doc, field, cut.new), cut
    raise HarnessError(f"--between {','.join(names)}: not two devices ({', '.join(seen['device'])}) nor two "
                       f"frameworks ({', '.join(seen['framework'])}) of this run")


def read_sides(paths: list[Path], names: tuple[str, ...] | None) -> tuple[
        dict[str, Any], dict[str, Any], Between | None, tuple[str, str]]:
    """(old, new, cut, their names) from `diff OLD NEW` or `diff RUN --between A,B`."""
    if names:
        if len(paths) != 1:
            raise HarnessError(f"diff --between A,B takes one run, got {len(paths)} paths")
        old, new, cut = between(read_results(paths[0]), names)
        return old, new, cut, (f"{paths[0]} [{cut.old}]", f"{paths[0]} [{cut.new}]")
    if len(paths) != 2:
        raise HarnessError(f"diff takes OLD and NEW (or one run with --between A,B), got {len(paths)} paths")
    return read_results(paths[0]), read_results(paths[1]), None, (str(paths[0]), str(paths[1]))


def _side(doc: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    return {**doc, "results": [r for r in doc["results"] if r[field] == value]}


def restrict(doc: dict[str, Any], drop_cases: set[str], frameworks: tuple[str, ...],
             devices: tuple[str, ...]) -> dict[str, Any]:
    """A baseline cut to what a run selected: without the cases it left out (-k, --shard) and
    without frameworks and devices it did not run, so that they do not show as removed."""
    meta = dict(doc["meta"])
    meta["frameworks"] = {fw: info for fw, info in meta["frameworks"].items() if fw in frameworks}
    meta["devices_requested"] = [d for d in meta.get("devices_requested") or [] if d in devices]
    return {**doc, "meta": meta, "cases": [c for c in doc["cases"] if c["id"] not in drop_cases],
            "results": [r for r in doc["results"] if r["case_id"] not in drop_cases
                        and r["framework"] in frameworks and r["device"] in devices]}


def compare_runs(old: dict[str, Any], new: dict[str, Any], cut: Between | None = None,
                 names: tuple[str, str] = ("old", "new")) -> dict[str, Any]:
    """The diff document (its fields: docs/diff.md)."""
    match = tuple(f for f in ("framework", "device") if cut is None or f != cut.field)
    old_cases, new_cases = {c["id"]: c for c in old["cases"]}, {c["id"]: c for c in new["cases"]}
    order = {cid: i for i, cid in enumerate([*new_cases, *(c for c in old_cases if c not in new_cases)])}
    a, b = _keyed(old, match), _keyed(new, match)
    results: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    for key in sorted(a.keys() | b.keys(), key=lambda k: (order.get(k[0], len(order)), k)):
        entry = {"case_id": key[0], **dict(zip(match, key[1:])), "label": "-".join(key[1:])}
        if key in a and key in b:
            changes = result_changes(a[key], b[key], same_framework="framework" in match)
            if changes:
                results.append({**entry, "verdict": [a[key]["verdict"], b[key]["verdict"]], "changes": changes})
        elif key[0] in old_cases and key[0] in new_cases:
            side, rec = (added, b[key]) if key in b else (removed, a[key])
            side.append({**entry, "verdict": rec["verdict"], "raw_verdict": rec["raw_verdict"]})
    diff = {
        "schema": SCHEMA,
        "old": _describe(old, names[0]), "new": _describe(new, names[1]),
        "between": None if cut is None else {"field": cut.field, "old": cut.old, "new": cut.new},
        "environment": _environment(old["meta"], new["meta"], cut),
        "cases": {
            "added": [_case_summary(new_cases[c], b, match) for c in new_cases if c not in old_cases],
            "removed": [_case_summary(old_cases[c], a, match) for c in old_cases if c not in new_cases],
            "changed": [{"case_id": c, "changes": ch} for c in new_cases if c in old_cases
                        for ch in [_case_changes(old_cases[c], new_cases[c])] if ch],
        },
        "results": results,
        "results_added": added,
        "results_removed": removed,
        "findings": _findings(old, new, drop_framework=cut is not None and cut.field == "framework"),
    }
    diff["counts"] = count_events(diff)
    return diff


def _keyed(doc: dict[str, Any], match: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, Any]]:
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in doc["results"]:
        key = (r["case_id"], *(r[f] for f in match))
        if key in out:
            raise HarnessError(f"result {'/'.join(key)} appears twice in one side of the diff")
        out[key] = r
    return out


def _describe(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return {"name": name, "cases": len(doc["cases"]), "results": len(doc["results"]),
            "complete": doc["meta"].get("complete", True),
            "versions": {fw: info.get("versions") or {} for fw, info in doc["meta"]["frameworks"].items()}}


def _case_summary(case: dict[str, Any], keyed: dict[tuple[str, ...], dict[str, Any]],
                  match: tuple[str, ...]) -> dict[str, Any]:
    results = [{**dict(zip(match, k[1:])), "label": "-".join(k[1:]), "verdict": r["verdict"]}
               for k, r in keyed.items() if k[0] == case["id"]]
    return {"case_id": case["id"], "op": case["op"], "source": case.get("source"), "results": results}


def _case_changes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields of a case record that differ: {field: [before, after]}. The input's values are
    compared through the code that rebuilds them (a seed or a literal changed), not printed."""
    out = {f: [a.get(f), b.get(f)] for f in CASE_FIELDS if a.get(f) != b.get(f)}
    if a.get("input_code") != b.get("input_code") and "input" not in out:
        out["input values"] = ["as before", "changed (seed, generator or literal values)"]
    return out


# ------------------------------------------------------------------ one result


def result_changes(a: dict[str, Any], b: dict[str, Any], same_framework: bool = True) -> list[dict[str, Any]]:
    """What changed between two records of the same (case, framework, device), as events.
    Two frameworks' calls always differ, so between frameworks only modes and conversions count."""
    out: list[dict[str, Any]] = []
    raw = [a["raw_verdict"], b["raw_verdict"]]
    if a["verdict"] != b["verdict"]:
        out.append({"kind": "verdict-change", "before": a["verdict"], "after": b["verdict"], "raw": raw})
    elif raw[0] != raw[1]:
        out.append({"kind": "raw-verdict-change", "before": raw[0], "after": raw[1], "raw": raw})
    if (raw[0] in DIVERGENT) != (raw[1] in DIVERGENT):
        out.append({"kind": "new-divergence" if raw[1] in DIVERGENT else "vanished-divergence",
                    "before": raw[0], "after": raw[1], "reason": b["reason"] if raw[1] in DIVERGENT else a["reason"]})
    plan_a, plan_b = _plan(a, same_framework), _plan(b, same_framework)
    if a["mode"] != b["mode"]:
        out.append({"kind": "mode-change", "before": plan_a, "after": plan_b})
    elif plan_a != plan_b:
        out.append({"kind": "conversion-change", "before": plan_a, "after": plan_b})
    ca, cb = a.get("comparison"), b.get("comparison")
    if ca and cb:  # both produced an output (an error on one side is a verdict change)
        for field, kind in (("shape", "shape-change"), ("dtype", "dtype-change")):
            if ca.get(field) != cb.get(field):
                out.append({"kind": kind, "before": ca.get(field), "after": cb.get(field)})
        if ca.get("shape") == cb.get("shape"):
            out += _drift(ca, cb)
    if a["expectation"] != b["expectation"]:
        out.append({"kind": "expectation-change", "before": a["expectation"], "after": b["expectation"]})
    if a["error"] and b["error"] and _error(a["error"]) != _error(b["error"]):
        out.append({"kind": "error-change", "before": a["error"], "after": b["error"]})
    return out


def _error(text: str) -> str:
    """An error message without the run's own directory: a crash names its log file
    (harness/pool.py: "its messages are in OUT/logs/keras.log"), and OUT differs between runs."""
    return _LOG_PATH.sub(r"logs/\1", text)


def _plan(r: dict[str, Any], with_call: bool) -> dict[str, Any]:
    return {"mode": r["mode"], "call": r["call"] if with_call else None, "conversions": r["conversions"]}


def _drift(ca: dict[str, Any], cb: dict[str, Any]) -> list[dict[str, Any]]:
    """Numbers of a compared part that moved (even when both sides pass), with the moves."""
    out = []
    for part in NUMERIC_PARTS:
        sa, sb = ca.get(part), cb.get(part)
        if not sa or not sb:
            continue
        before, after = ({k: s.get(k) for k in STATS} for s in (sa, sb))
        if before != after:
            out.append({"kind": "drift", "part": part, "before": before, "after": after,
                        "ulp": _move(before["max_ulp"], after["max_ulp"]),
                        "abs": _move(before["max_abs"], after["max_abs"])})
    return out


def _move(x: Any, y: Any) -> float | None:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
    return abs(float(y) - float(x)) if numbers else None


# ------------------------------------------------------------------ run-level


def _environment(old: dict[str, Any], new: dict[str, Any], cut: Between | None) -> list[dict[str, Any]]:
    """Facts about the two sides that differ: versions first, then the rest of the environment."""
    if cut is None:
        a, b = _facts(old), _facts(new)
    elif cut.field == "framework":  # the two frameworks' own facts, side by side
        a, b = _framework_facts("framework", old["frameworks"].get(cut.old, {})), \
            _framework_facts("framework", new["frameworks"].get(cut.new, {}))
    else:  # each framework's name for the two devices
        a, b = ({f"{fw} device": (info.get("devices") or {}).get(device, "not seen")
                 for fw, info in old["frameworks"].items()} for device in (cut.old, cut.new))
    out = [{"kind": "version-change" if ".versions." in k else "environment-change", "what": k,
            "before": a.get(k), "after": b.get(k)} for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    return sorted(out, key=lambda e: e["kind"] != "version-change")


def _facts(meta: dict[str, Any]) -> dict[str, Any]:
    """The run facts a diff compares (not timings, shards or counts), flattened to dotted names."""
    env = meta.get("environment") or {}
    facts: dict[str, Any] = {f"environment.{k}": v for k, v in env.items() if k != "env"}
    facts.update({f"environment.env.{k}": v for k, v in (env.get("env") or {}).items()})
    facts.update({f"worker_env.{k}": v for k, v in (meta.get("worker_env") or {}).items()})
    facts.update(seed=meta.get("seed"), devices_requested=meta.get("devices_requested"))
    for fw, info in meta["frameworks"].items():
        facts.update(_framework_facts(f"frameworks.{fw}", info))
    return facts


def _framework_facts(prefix: str, info: dict[str, Any]) -> dict[str, Any]:
    facts = {f"{prefix}.{group}.{k}": v for group in ("versions", "devices", "env")
             for k, v in (info.get(group) or {}).items()}
    facts[f"{prefix}.backend"] = info.get("backend")
    if info.get("error"):
        facts[f"{prefix}.error"] = info["error"]
    return facts


def _findings(old: dict[str, Any], new: dict[str, Any], drop_framework: bool) -> dict[str, list[dict[str, Any]]]:
    """Divergence groups (harness.findings.collect) that appeared, vanished or changed size."""
    def groups(doc: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
        found, _ = collect(doc)
        return {(g["verdict"], _error(g["explanation"])) if drop_framework
                else (g["framework"], g["verdict"], _error(g["explanation"])):
                {k: g[k] for k in ("framework", "verdict", "explanation", "count", "smallest", "links", "known")}
                for g in found}

    a, b = groups(old), groups(new)
    return {"new": [{"kind": "new-finding", **b[k]} for k in b if k not in a],
            "vanished": [{"kind": "vanished-finding", **a[k]} for k in a if k not in b],
            "resized": [{**b[k], "before": a[k]["count"]} for k in b if k in a and a[k]["count"] != b[k]["count"]]}


# ------------------------------------------------------------------ --fail-on


def events(diff: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every change in a diff document, each with its `kind`."""
    for r in diff["results"]:
        yield from r["changes"]
    for name, kind in (("added", "case-added"), ("removed", "case-removed"), ("changed", "case-change")):
        for c in diff["cases"][name]:
            yield {"kind": kind, **c}
    for name, kind in (("results_added", "result-added"), ("results_removed", "result-removed")):
        for r in diff[name]:
            yield {"kind": kind, **r}
    yield from diff["findings"]["new"]
    yield from diff["findings"]["vanished"]
    yield from diff["environment"]


def count_events(diff: dict[str, Any]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for e in events(diff):
        counts[e["kind"]] += 1
    return {k: n for k, n in counts.items() if n}


Rule = Callable[[dict[str, Any]], bool]
_DRIFT = re.compile(r"drift>(\d+(?:\.\d*)?(?:e[-+]?\d+)?)(ulp|abs)")


def parse_fail_on(text: str) -> dict[str, Rule]:
    """`--fail-on` items -> {item: predicate over events}; an unknown item is a usage error."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if items == ["none"]:
        return {}
    rules: dict[str, Rule] = {}
    for item in items:
        drift = _DRIFT.fullmatch(item)
        if item == "any":
            rules[item] = lambda e: True
        elif item == "raw-verdict-change":  # raw verdicts that moved, whether or not the final verdict did
            rules[item] = lambda e: e["kind"] in ("verdict-change", "raw-verdict-change") and e["raw"][0] != e["raw"][1]
        elif item in KINDS:
            rules[item] = lambda e, kind=item: e["kind"] == kind  # type: ignore[misc]
        elif drift:
            limit, unit = float(drift.group(1)), drift.group(2)
            rules[item] = lambda e, x=limit, u=unit: e["kind"] == "drift" and (e[u] or 0.0) > x  # type: ignore[misc]
        else:
            raise HarnessError(f"--fail-on: unknown item '{item}'; expected a comma list of {', '.join(KINDS)}, "
                               "drift>Nulp, drift>Xabs, any, or none")
    return rules


def failures(diff: dict[str, Any], rules: dict[str, Rule]) -> dict[str, int]:
    """{item: events it matched}, for the items that matched any: the exit status is 1 when not empty."""
    hits = dict.fromkeys(rules, 0)
    for e in events(diff):
        for item, rule in rules.items():
            hits[item] += rule(e)
    return {k: n for k, n in hits.items() if n}
