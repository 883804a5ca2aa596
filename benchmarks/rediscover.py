"""Rediscovery: does `pool-parity discover`, with no case library, find the library's divergences?

    python benchmarks/rediscover.py [--seeds 1,2,3,4,5] [--budget 300] [--out DIR] [--table-only]

Runs the shipped library once (`pool-parity run cases`, torch/keras/jax) to list its divergence
classes as docs/findings.md groups them (harness.findings: framework, raw verdict,
explanation), then `pool-parity discover --budget B --seed S --known cases` for each seed, one
after another (generation never reads the library; --known only labels clusters). A class is
found in a seed when a cluster is labelled known by a library case whose result belongs to that
class. Prints a markdown table: each class, the seeds it was found in, the median configs to
its first hit; and the clusters no library case explains, with the seeds that found them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FRAMEWORKS = "torch,keras,jax"


def library_classes(out: Path) -> tuple[dict[tuple[str, str], tuple[str, str, str]], list[tuple[str, str, str]], set]:
    """(case id, framework) -> its findings class; every class in findings order; the classes
    only cases/discovered.yaml has (what discovery added to the library)."""
    from harness.findings import DIVERGENT, _key
    from harness.results import read_results

    if not (out / "results.json").exists():
        subprocess.run([sys.executable, "-m", "harness", "run", "cases", "--frameworks", FRAMEWORKS, "--out", str(out),
                        "-q"], cwd=ROOT, check=False, capture_output=True)
    doc = read_results(out)
    source = {c["id"]: c["source"] for c in doc["cases"]}
    by_case = {(r["case_id"], r["framework"]): _key(r) for r in doc["results"] if r["raw_verdict"] in DIVERGENT}
    older = {cls for (case, _), cls in by_case.items() if not source[case].startswith("cases/discovered.yaml")}
    return by_case, sorted(set(by_case.values())), set(by_case.values()) - older


def run_seed(seed: int, budget: float, out: Path) -> dict:
    if not (out / "discover.json").exists():
        with open(out.parent / f"seed-{seed}.log", "w") as log:
            subprocess.run([sys.executable, "-m", "harness", "discover", "--budget", str(budget), "--seed", str(seed),
                            "--frameworks", FRAMEWORKS, "--known", "cases", "--out", str(out)], cwd=ROOT,
                           stdout=log, stderr=subprocess.STDOUT, check=False)
    return json.loads((out / "discover.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/rediscover"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    by_case, classes, added = library_classes(args.out / "library")
    seeds = [int(s) for s in args.seeds.split(",")]
    found: dict[tuple[str, str, str], dict[int, int]] = {c: {} for c in classes}  # class: seed -> first hit
    new: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    runs = {}
    for seed in seeds:
        doc = run_seed(seed, args.budget, args.out / f"seed-{seed}")
        runs[seed] = doc
        for c in doc["clusters"]:
            known = c.get("known_case")
            cls = by_case.get((known["case"], c["signature"]["framework"])) if known else None
            if cls is not None:
                hits = found.setdefault(cls, {})
                hits[seed] = min(hits.get(seed, 10**9), c["first_hit_config"])
            elif seed not in new.setdefault((c["text"], tuple(c["key"])), []):
                new[(c["text"], tuple(c["key"]))].append(seed)
    print(f"{len(seeds)} seeds x {args.budget:g} s: configs per seed "
          + ", ".join(f"{s}: {d['configs']} ({d['seconds']:.0f} s, {len(d['clusters'])} clusters)" for s, d in runs.items()))
    print("\n| library divergence (docs/findings.md) | seeds found | median configs to first hit |\n|---|---|---|")
    for cls in classes:
        fw, verdict, why = cls
        hits = found.get(cls, {})
        median = f"{statistics.median(hits.values()):.0f}" if hits else "-"
        mark = " *(added by discovery, cases/discovered.yaml)*" if cls in added else ""
        print(f"| {fw}: {verdict}: {why}{mark} | {len(hits)}/{len(seeds)} ({', '.join(map(str, sorted(hits))) or '-'}) "
              f"| {median} |")
    print("\n| no library case has this cluster: signature | features (of the case reached) | seeds |\n|---|---|---|")
    for (text, key), where in sorted(new.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| {text} | {', '.join(key) or '-'} | {len(where)} ({', '.join(map(str, where))}) |")


if __name__ == "__main__":
    main()
