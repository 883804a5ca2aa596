"""Emit: what discovery found, in --out DIR.

- discover.json: the run (seed, budget, configs, seconds, configs/s per framework, where the
  time went) and every cluster (signature, key, known, case file, pinned / free, first hit,
  shrink effort, severity of the first and of the minimal example);
- discovered/<cluster>.yaml: the minimal case, `expect:` holding the verdicts observed on
  every framework, so `pool-parity run DIR/discovered` replays them and exits 0;
- discovered/<cluster>_<framework>.py: a standalone script per diverging framework: the case
  input's NumPy code (harness.repro.input_code) and the framework's own calls (its adapter's
  `repro`);
- summary.md and index.html: the clusters ranked by severity, new ones first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from harness.discover import classify, configs
from harness.discover.classify import Signature
from harness.discover.cluster import Cluster
from harness.discover.configs import Raw
from harness.inputs import make_input
from harness.repro import input_code


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def ranked(clusters: list[Cluster]) -> list[Cluster]:
    """New clusters first, then by severity (classify.rank) of the first example."""
    return sorted(clusters, key=lambda c: (c.known is not None,
                                           classify.rank(c.signature, classify.severity(c.founder.answer)), c.id))


def names(clusters: list[Cluster]) -> dict[str, str]:
    """Final cluster names, in ranked order: 01-keras-max_pool-output-nan-missing."""
    return {c.id: f"{i:02d}-{_slug(c.signature.framework)}-{c.signature.op}-{_slug(c.signature.kind)}"
            for i, c in enumerate(ranked(clusters), 1)}


def _owner(sig: Signature, case_features: frozenset[str], clusters: list[Cluster], label: dict[str, str]) -> str:
    for c in clusters:
        if c.signature == sig and c.key is not None and c.key <= case_features:
            return f" (cluster {label[c.id]})"
    return ""


def expectations(cluster: Cluster, clusters: list[Cluster], label: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    """(frameworks, expect:) for the cluster's case file, from what was observed on it."""
    feats = configs.features(cluster.case)
    if not cluster.confirm:  # not confirmed on every framework (interrupted): what the shrinker saw
        sig = cluster.signature
        fw = cluster.founder.framework
        return [fw], {fw: {"verdict": sig.verdict, "reason": f"discovered: {sig.text()}"}}
    frameworks: list[str] = []
    expect: dict[str, Any] = {}
    for name, answer in sorted(cluster.confirm.items()):
        rec = answer.record
        fw, device = rec["framework"], rec["device"]
        if fw not in frameworks:
            frameworks.append(fw)
        verdict = rec.get("raw_verdict") or rec["verdict"]
        if verdict in classify.NOT_DIVERGENT or fw in expect:
            continue
        seen = cluster.confirm_signatures.get(name)
        text = seen.text() if seen else f"{verdict}: {rec.get('reason', '')}"
        entry: dict[str, Any] = {"verdict": verdict,
                                 "reason": f"discovered: {text}" + (_owner(seen, feats, clusters, label) if seen else "")}
        if device != "cpu":
            entry["devices"] = [device]
        expect[fw] = entry
    return frameworks, expect


def case_mapping(cluster: Cluster, clusters: list[Cluster], label: dict[str, str], seed: int) -> Raw:
    raw = configs.written(cluster.raw)
    for name in ("id", "frameworks", "devices"):
        raw.pop(name, None)
    frameworks, expect = expectations(cluster, clusters, label)
    feats = ", ".join(sorted(cluster.key or configs.features(cluster.case))) or "none"
    head = {"id": f"discovered-{label[cluster.id]}",
            "description": f"pool-parity discover --seed {seed}, config {cluster.first_hit}: "
                           f"{cluster.signature.text()}; features: {feats}"}
    return {**head, **raw, "frameworks": frameworks, "tags": ["discovered"], "expect": expect}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


def write_case(path: Path, mapping: Raw, note: str) -> None:
    text = yaml.dump({"cases": [mapping]}, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=120)
    path.write_text(f"# {note}\n" + text, encoding="utf-8")


def repro_scripts(cluster: Cluster, name: str, directory: Path) -> list[str]:
    """discovered/<name>_<framework>.py for every framework the minimal case diverges on."""
    diverging = {n: a for n, a in cluster.confirm.items() if cluster.confirm_signatures.get(n)}
    if not diverging:
        diverging = {cluster.signature.framework: cluster.founder.answer}
    case = cluster.case
    try:
        code = input_code(case, make_input(case.input))
    except Exception as exc:  # noqa: BLE001 - the case's runs reported it; the script says so
        code = f"raise SystemExit('the input could not be built: {type(exc).__name__}')\n"
    written = []
    for label, answer in sorted(diverging.items()):
        snippet = answer.record.get("repro") or ""
        if not snippet:
            continue
        sig = cluster.confirm_signatures.get(label) or cluster.signature
        path = directory / f"{name}_{_slug(label)}.py"
        doc = (f'"""{sig.text()}\n\nCase discovered/{name}.yaml, found by pool-parity discover. The reference '
               f'(float64) output is in that case\'s run; this prints the framework\'s own.\n"""\n')
        path.write_text(doc + code + snippet + "\n", encoding="utf-8")
        written.append(str(path.relative_to(directory.parent)))
    return written


def cluster_record(cluster: Cluster, name: str, files: list[str]) -> dict[str, Any]:
    sig = cluster.signature
    shrinker = cluster.shrinker
    minimal = cluster.confirm.get(sig.framework)
    return {
        "id": name, "signature": sig.as_dict(), "text": sig.text(),
        "frameworks": sorted(n for n, s in cluster.confirm_signatures.items() if s) or [sig.framework],
        "raw_verdict": sig.verdict, "kind": sig.kind, "op": sig.op,
        "key": sorted(cluster.key if cluster.key is not None else configs.features(cluster.case)),
        "known": cluster.known is not None, "known_case": cluster.known,
        "state": cluster.state, "reproduced": (cluster.confirm_signatures.get(sig.framework) == sig) if cluster.confirm else None,
        "case_file": f"discovered/{name}.yaml", "repro_files": files,
        "pinned": cluster.explanation.get("pinned", {}), "free": cluster.explanation.get("free", []),
        "depends": cluster.explanation.get("depends", {}),
        "first_hit_config": cluster.first_hit, "configs_before_first_hit": cluster.first_hit - 1,
        "seconds_to_first_hit": round(cluster.first_seconds, 2), "examples": cluster.examples,
        "shrink": {"steps": shrinker.steps, "evaluations": shrinker.evaluations, "invalid_candidates": shrinker.invalid,
                   "minimal": shrinker.minimal, "capped": shrinker.done and not shrinker.minimal, "cap": shrinker.cap},
        "severity": {"first": classify.severity(cluster.founder.answer),
                     "minimal": classify.severity(minimal) if minimal is not None else None},
    }


def write_all(out: Path, run: dict[str, Any], clusters: list[Cluster], seed: int) -> dict[str, Any]:
    """Every output; returns discover.json's document."""
    directory = out / "discovered"
    directory.mkdir(parents=True, exist_ok=True)
    for old in [*directory.glob("*.yaml"), *directory.glob("*.py")]:  # a previous run's clusters
        old.unlink()
    label = names(clusters)
    records = []
    for cluster in ranked(clusters):
        name = label[cluster.id]
        note = f"Found by pool-parity discover --seed {seed}: {cluster.signature.text()}. Ready to move into cases/."
        write_case(directory / f"{name}.yaml", case_mapping(cluster, clusters, label, seed), note)
        records.append(cluster_record(cluster, name, repro_scripts(cluster, name, directory)))
    doc = {**run, "clusters": records}
    (out / "discover.json").write_text(json.dumps(doc, indent=1, allow_nan=False, default=str) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(doc), encoding="utf-8")
    env = Environment(loader=PackageLoader("harness.discover", "templates"), autoescape=select_autoescape())
    (out / "index.html").write_text(env.get_template("index.html.j2").render(doc=doc), encoding="utf-8")
    return doc


def _severity_text(sev: dict[str, Any] | None) -> str:
    if not sev:
        return "-"
    if sev.get("part") in ("output", "indices", "grad"):
        text = f"{sev['part']}: {sev['mismatches']}/{sev['total']} wrong"
        nonfinite = (sev.get("nan_mismatches") or 0) + (sev.get("inf_mismatches") or 0)
        if nonfinite:
            text += f", {nonfinite} NaN/inf misplaced"
        if sev.get("max_abs"):
            text += f", max abs {sev['max_abs']:.3g}, rel {sev.get('max_rel') or 0:.3g}"
        if sev.get("max_ulp"):
            text += f", {sev['max_ulp']:.3g} ulp"
        return text
    if sev.get("part") == "shape":
        return f"shape {sev['shape']} vs {sev['ref_shape']}"
    return sev.get("part", "-")


def summary_markdown(doc: dict[str, Any]) -> str:
    rates = ", ".join(f"{fw} {info['configs_per_second']:.1f}" for fw, info in doc["frameworks"].items())
    lines = [
        "# pool-parity discover", "",
        f"Seed {doc['seed']}, " + (f"budget {doc['budget']:g} s" if doc.get("budget") is not None
                                   else f"{doc['configs_requested']} configs")
        + f": {doc['configs']} configs in {doc['seconds']:.1f} s ({doc['configs_per_second']:.1f} configs/s; "
        f"per framework: {rates}). {len(doc['clusters'])} clusters, "
        f"{sum(not c['known'] for c in doc['clusters'])} not in the known library; "
        f"{len(doc['flaky'])} flaky answers." + ("" if doc["complete"] else " **Incomplete** (interrupted or out of time)."),
        "",
        "| # | cluster | signature | features | known | first hit | severity (first example) |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(doc["clusters"], 1):
        known = f"`{c['known_case']['case']}`" if c["known"] else "**new**"
        lines.append(f"| {i} | [{c['id']}]({c['case_file']}) | {c['text']} | {', '.join(c['key']) or '-'} | {known} | "
                     f"config {c['first_hit_config']} | {_severity_text(c['severity']['first'])} |")
    for c in doc["clusters"]:
        pinned = ", ".join(f"{k}={v}" for k, v in c["pinned"].items()) or "-"
        lines += ["", f"## {c['id']}", "", f"- **Signature:** {c['text']}",
                  f"- **Pinned:** {pinned}", f"- **Free:** {', '.join(c['free']) or '-'}"]
        for k, v in c["depends"].items():
            lines.append(f"- **{k}** ({v['value']}): keeps it at {', '.join(v['kept'])}; loses it at {', '.join(v['lost'])}")
        shrink = c["shrink"]
        lines += [f"- **Shrunk** in {len(shrink['steps'])} steps, {shrink['evaluations']} evaluations"
                  + (" (1-minimal)" if shrink["minimal"] else " (effort cap reached: not proven 1-minimal)"),
                  f"- **Severity:** first example {_severity_text(c['severity']['first'])}; "
                  f"minimal {_severity_text(c['severity']['minimal'])}",
                  f"- **Case:** `{c['case_file']}`; repro: " + (", ".join(f"`{f}`" for f in c["repro_files"]) or "-")]
    return "\n".join(lines) + "\n"
