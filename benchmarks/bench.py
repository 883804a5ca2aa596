"""Benchmark the harness against a direct-call baseline on a fixed generated suite.

    python benchmarks/bench.py [--cases 1000] [--big 10000] [--frameworks torch,keras,jax]
                               [--also onnxruntime,torch-onnx]

Prints: wall times and cases x frameworks per second, the breakdown (framework calls measured in
the workers, start-up, inputs, reference, comparison, serialisation, rendering), the ratio
harness / baseline, the speed-up from --jobs 1 to 2 (results checked identical), JAX compiles
per distinct signature, report rendering for 10,000 results, and peak RSS. Per-case overhead is
shown four ways: the wall the harness adds per case over the baseline; the parent's CPU per case
during the run (on 2 cores shared with 3 workers), as an average over the 1000- and the
10,000-case runs and as the cost of one more case (their difference, from which the runs' fixed
costs cancel: the target's figure); and the same work alone (the suite run in-process against
stand-in frameworks, standin_adapter.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import suite  # noqa: E402

# `pool-parity run`, then the process's own peak RSS (all phases: load, run, results.json, report).
RUN = ("import sys\nfrom harness.cli import main\nfrom harness.run import peak_rss_mb\ncode = main(sys.argv[1:])\n"
       "print('PEAK_RSS_MB', peak_rss_mb())\nsys.exit(code)")


def run_harness(yaml_path: Path, out: Path, frameworks: str, jobs: int) -> tuple[float, dict, float]:
    """(wall seconds, results.json, parent peak RSS in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUN, "run", str(yaml_path), "--frameworks", frameworks,
                           "--jobs", str(jobs), "--out", str(out), "-q"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"harness run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = float(proc.stdout.rsplit("PEAK_RSS_MB", 1)[1].split()[0])
    return wall, json.loads((out / "results.json").read_text()), peak


def run_baseline(json_path: Path, frameworks: list[str]) -> tuple[float, list[dict]]:
    """The frameworks' direct loops, concurrently (as the harness runs one worker each), with the
    same thread caps the harness gives its workers."""
    import os

    from harness.config import default_threads, thread_env

    env = {**os.environ, **thread_env(default_threads(len(frameworks)))}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(HERE / "baseline.py"), str(json_path), fw], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for fw in frameworks]
    rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return time.perf_counter() - t0, rows


def standin_overhead(yaml_path: Path, out: Path) -> tuple[float, dict]:
    """Parent CPU per case of the harness's own work alone: the suite run in-process against three
    stand-in frameworks (standin_adapter.py), minus the stand-ins' own time. No workers, no pipes,
    nothing else on the cores."""
    import os

    env = {**os.environ, "POOL_PARITY_ADAPTERS": "s1=standin_adapter,s2=standin_adapter,s3=standin_adapter",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", RUN, "run", str(yaml_path), "--frameworks", "s1,s2,s3",
                           "--no-isolation", "--out", str(out), "-q"], capture_output=True, text=True, env=env)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"stand-in run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    doc = json.loads((out / "results.json").read_text())
    meta = doc["meta"]
    standin = sum(r["seconds"] or 0 for r in doc["results"])
    return meta["timings"]["load"] + meta["cpu_seconds"] - standin, meta["timings"]


def jax_compiles(n: int) -> tuple[int, int]:
    """(compiles, distinct signatures) running the suite's cases through the JAX adapter."""
    from harness.adapters import jaxlax
    from harness.cases import load_cases
    from harness.inputs import make_input

    with tempfile.TemporaryDirectory() as tmp:
        yaml_path, _ = suite.write(n, Path(tmp))
        cases = load_cases([str(yaml_path)])
    for case in cases:
        jaxlax.execute(case, jaxlax.plan(case), make_input(case.input), "cpu")
    return jaxlax.compile_count(), len(suite.signatures())


def render_10k(doc: dict, out: Path) -> tuple[float, float, int]:
    from harness.report import render_all

    cases, results = [], []
    i = 0
    while len(results) < 10_000:
        for case in doc["cases"]:
            cid = f"{case['id']}-r{i}"
            cases.append({**case, "id": cid, "order": len(cases)})
            results.extend({**r, "case_id": cid} for r in doc["results"] if r["case_id"] == case["id"])
            if len(results) >= 10_000:
                break
        i += 1
    big = {**doc, "cases": cases, "results": results[:10_000]}
    t0 = time.perf_counter()
    render_all(big, out)
    elapsed = time.perf_counter() - t0
    return elapsed, (out / "index.html").stat().st_size / 1e6, len(big["results"]), \
        max(f.stat().st_size for f in out.rglob("*.html")) / 1e6, len(list(out.rglob("*.html")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--big", type=int, default=10_000, help="cases for the peak-RSS run (0 to skip)")
    ap.add_argument("--frameworks", default="torch,keras,jax")
    ap.add_argument("--repeat", type=int, default=2, help="runs of baseline and harness; the best wall is kept")
    ap.add_argument("--also", default="onnxruntime,torch-onnx",
                    help="frameworks without a direct-call baseline: their framework time from one more harness "
                         "run of the suite ('' to skip)")
    args = ap.parse_args()
    fws = args.frameworks.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="pool-parity-bench-"))
    yaml_path, json_path = suite.write(args.cases, tmp / "suite")
    work = args.cases * len(fws)

    base_wall, base_rows = min((run_baseline(json_path, fws) for _ in range(args.repeat)), key=lambda r: r[0])
    h1_wall, h1, h1_peak = min((run_harness(yaml_path, tmp / f"h1-{i}", args.frameworks, 1) for i in range(args.repeat)),
                               key=lambda r: r[0])
    h2_wall, h2, _ = run_harness(yaml_path, tmp / "h2", args.frameworks, 2)
    strip = lambda d: [{k: v for k, v in r.items() if k != "seconds"} for r in d["results"]]  # noqa: E731
    identical = strip(h1) == strip(h2)

    meta = h1["meta"]
    t = meta["timings"]
    fw_time = {fw: sum(r["seconds"] or 0 for r in h1["results"] if r["framework"] == fw) for fw in fws}
    t0 = time.perf_counter()
    from harness.report import render_all

    render_all(h1, tmp / "render")
    render_s = time.perf_counter() - t0
    parent = t.get("load", 0.0) + meta["cpu_seconds"]  # parent CPU: loading, then the whole run loop

    print(f"suite: {args.cases} cases x {len(fws)} frameworks = {work} results, "
          f"{len(suite.signatures())} distinct signatures (CPU, {meta['environment']['cpu_count']} cores)")
    print(f"(walls: best of {args.repeat}; the harness is a fresh `pool-parity run` process, imports included)")
    print(f"{'':32}{'seconds':>10}")
    print(f"{'baseline wall (direct calls)':32}{base_wall:>10.2f}")
    for row in base_rows:
        print(f"{'  ' + row['framework'] + ' import / loop':32}{row['import_s']:>10.2f} / {row['loop_s']:.2f}")
    print(f"{'harness wall, --jobs 1':32}{h1_wall:>10.2f}   ({work / h1_wall:.0f} results/s)")
    print(f"{'harness wall, --jobs 2':32}{h2_wall:>10.2f}   (speed-up {h1_wall / h2_wall:.2f}x, "
          f"results identical: {identical})")
    print(f"{'ratio harness / baseline':32}{h1_wall / base_wall:>10.2f}x  (target <= 1.3)")
    print(f"{'wall added per case':32}{(h1_wall - base_wall) / args.cases * 1000:>10.3f} ms   "
          "((harness - baseline) / cases: what a user waits for)")
    print("breakdown of the --jobs 1 run:")
    for fw, s in fw_time.items():
        print(f"{'  framework calls: ' + fw:32}{s:>10.2f}   (in its worker, concurrent with the others)")
    for fw, s in meta.get("ready_seconds", {}).items():
        print(f"{'  worker ready: ' + fw:32}{s:>10.2f}   (after the run started; others work meanwhile)")
    print("  parent CPU seconds by stage:")
    for k, v in t.items():
        print(f"{'    ' + k:32}{v:>10.2f}")
    loop = meta["cpu_seconds"] - sum(v for k, v in t.items() if k != "load")
    print(f"{'    scheduling loop (the rest)':32}{loop:>10.2f}")
    print(f"{'  report rendering (wall)':32}{render_s:>10.2f}   (re-rendered here from results.json)")
    print(f"{'  parent CPU per case':32}{parent / args.cases * 1000:>10.3f} ms   (average, with the run's fixed costs; "
          f"{parent / work * 1000:.3f} ms per case x framework)")
    alone, stages = standin_overhead(yaml_path, tmp / "standin")
    print(f"{'  the same work alone':32}{alone / args.cases * 1000:>10.3f} ms   (in-process, frameworks replaced by "
          f"stand-ins: {', '.join(f'{k} {v / args.cases * 1000:.2f}' for k, v in stages.items() if k != 'ipc')})")
    print(f"{'  reference share of wall':32}{t['reference'] / h1_wall * 100:>9.1f} %   (target < 20 %)")
    print(f"{'peak RSS (parent), ' + str(args.cases) + ' cases':32}{h1_peak:>10.1f} MB   "
          f"(at the end of the run loop: {meta['rss_mb']:.1f} MB)")

    if "jax" in fws:
        compiles, sigs = jax_compiles(args.cases)
        print(f"{'jax compiles / signatures':32}{compiles:>10} / {sigs}")
    r_s, r_mb, r_n, r_max, r_files = render_10k(h1, tmp / "render-10k")
    print(f"{'render ' + str(r_n) + ' results':32}{r_s:>10.2f}   (index.html {r_mb:.1f} MB, {r_files} HTML files, "
          f"largest {r_max:.1f} MB; targets < 10 s, < 20 MB)")
    if args.big:
        big_yaml, _ = suite.write(args.big, tmp / "big")
        big_wall, big, big_peak = run_harness(big_yaml, tmp / "hbig", args.frameworks, 1)
        print(f"{'peak RSS (parent), ' + str(args.big) + ' cases':32}{big_peak:>10.1f} MB   "
              f"(at the end of the run loop: {big['meta']['rss_mb']:.1f} MB; wall {big_wall:.1f} s)")
        big_parent = big["meta"]["timings"].get("load", 0.0) + big["meta"]["cpu_seconds"]
        print(f"{'parent CPU per case, ' + str(args.big):32}{big_parent / args.big * 1000:>10.3f} ms   "
              "(the same average over the longer run)")
        if args.big > args.cases:
            # What one more case costs: the runs' fixed costs (start-up while the workers import,
            # one plan and window table per signature) cancel out of the difference.
            marginal = (big_parent - parent) / (args.big - args.cases)
            print(f"{'parent CPU per extra case':32}{marginal * 1000:>10.3f} ms   (({args.big} - {args.cases} cases) "
                  "difference: the per-case overhead; target < 1 ms)")
    if args.also:
        also_framework_time(yaml_path, tmp / "also", args.also)
    print(f"(work files in {tmp})")


def also_framework_time(yaml_path: Path, out: Path, frameworks: str) -> None:
    """Framework-call time of the frameworks that have no direct-call baseline (ONNX Runtime, the
    exporter path), from their own harness run of the same suite."""
    wall, doc, _ = run_harness(yaml_path, out, frameworks, 1)
    print(f"frameworks without a baseline ({frameworks}; their own --jobs 1 run, wall {wall:.1f} s):")
    for fw in frameworks.split(","):
        rows = [r for r in doc["results"] if r["framework"] == fw]
        ran = [r for r in rows if r["seconds"] is not None]
        if not ran:
            why = doc["meta"]["frameworks"].get(fw, {}).get("error", "no result ran")
            print(f"{'  framework calls: ' + fw:32}{'-':>10}   ({why})")
            continue
        print(f"{'  framework calls: ' + fw:32}{sum(r['seconds'] for r in ran):>10.2f}   ({len(ran)} of {len(rows)} "
              "results ran; first call per signature includes the session / export)")


if __name__ == "__main__":
    main()
