"""Benchmark `pool-parity discover`: configs/s, clusters over time, where the time goes.

    python benchmarks/discover_bench.py [--budgets 60,300] [--seed 0] [--frameworks torch,keras,jax]
                                        [--plain 2000] [--out DIR]
    nox -s bench -- --discover [same options]

For each budget it runs `pool-parity discover --budget B` (a fresh process, as a user would) and
prints, from its discover.json: configs tried and configs/s overall and per framework; the
clusters found over time (each cluster's first hit); where the time went: generation (the
parent's Hypothesis draws), the Runner's wall time and within it each framework's own time
(with the compile estimate: first calls of a signature beyond a repeated call's time), the
parent's harness stages, discovery's bookkeeping; and the runs by purpose (generated configs vs
re-runs, shrink candidates, explanation variants). `--plain N` also runs the first N generated
configurations through `pool-parity run` alone (no follow-ups): the rate at which the harness
takes discovery's configurations. Figures are printed, never asserted; the machine's cores and
load average are printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def run_discover(budget: float, seed: int, frameworks: str, out: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", "discover", "--budget", str(budget), "--seed", str(seed),
                           "--frameworks", frameworks, "--out", str(out), "-q"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"discover failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads((out / "discover.json").read_text())


def run_plain(count: int, seed: int, frameworks: str, out: Path) -> tuple[float, dict]:
    """The first `count` generated configurations as a case file, through `pool-parity run`."""
    import yaml

    from harness.discover import configs
    from harness.discover.generate import ConfigStream

    cases = [configs.written(raw) for raw, _ in ConfigStream(seed).take(count)]
    path = out / "generated.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"cases": cases}, sort_keys=False))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--frameworks", frameworks,
                           "--out", str(out / "run"), "-q"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads((out / "run" / "results.json").read_text())


def report(budget: float, wall: float, doc: dict) -> None:
    t = doc["time"]
    print(f"\n== budget {budget:g} s: {doc['configs']} configs in {doc['seconds']:.1f} s "
          f"(process wall {wall:.1f} s): {doc['configs_per_second']:.1f} configs/s; "
          f"{len(doc['clusters'])} clusters ({sum(not c['known'] for c in doc['clusters'])} new), "
          f"{len(doc['flaky'])} flaky")
    print(f"{'framework':12}{'configs':>9}{'configs/s':>11}{'fw s':>9}{'compile s':>11}{'avoided':>9}")
    for fw, info in doc["frameworks"].items():
        print(f"{fw:12}{info['configs']:>9}{info['configs_per_second']:>11.1f}{info['framework_seconds']:>9.1f}"
              f"{info['compile_seconds_estimate']:>11.1f}{info['avoided_configs']:>9}")
    runs = doc["runs"]
    follow = sum(v for k, v in runs.items() if k not in ("generated", "known"))
    print(f"runs: {runs['generated']} generated, {follow} follow-ups ({', '.join(f'{k} {v}' for k, v in runs.items() if k not in ('generated',))})")
    stages = t["runner_parent_cpu"]
    print(f"time: generate {t['generate']:.1f} s, runner wall {t['oracle_wall']:.1f} s in {t['oracle_batches']} rounds "
          f"(parent harness CPU {sum(stages.values()):.1f} s: "
          + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()) + f"), bookkeeping {t['bookkeeping']:.1f} s, "
          f"--known {t['known']:.1f} s")
    print("clusters over time (first hit): " + ", ".join(f"{p['seconds']:.0f}s:{p['clusters']}" for p in doc["timeline"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="60,300")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frameworks", default="torch,keras,jax")
    parser.add_argument("--plain", type=int, default=2000, help="also run this many generated configs alone (0: skip)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="discover-bench-"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f} at start; frameworks {args.frameworks}; "
          f"outputs in {out}")
    if args.plain:
        wall, doc = run_plain(args.plain, args.seed, args.frameworks, out / "plain")
        fw = doc["meta"]["frameworks"]
        print(f"\n== the first {args.plain} generated configs alone through `pool-parity run`: {wall:.1f} s wall, "
              f"{args.plain / wall:.1f} configs/s ({len(doc['results'])} results; framework seconds: "
              + ", ".join(f"{name} {sum(r['seconds'] or 0 for r in doc['results'] if r['framework'] == name):.1f}"
                          for name in fw) + ")")
    for budget in (float(b) for b in args.budgets.split(",")):
        wall, doc = run_discover(budget, args.seed, args.frameworks, out / f"budget-{budget:g}")
        report(budget, wall, doc)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
