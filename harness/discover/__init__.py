"""`pool-parity discover`: generate -> run (the same Runner and workers) -> classify -> cluster ->
shrink -> explain -> emit. One module per verb; this module runs them in order (docs/discover.md)."""

from __future__ import annotations

import signal
import time
from typing import Any

from harness.config import RunConfig
from harness.spec import Case

EXIT_OK, EXIT_NEW, EXIT_INTERRUPTED = 0, 1, 130


def run_discovery(opts: Any, config: RunConfig, library: list[Case]) -> int:
    """Discover, label against the library, write every output; the exit code: 0 when nothing
    new was found, 1 when a cluster the library does not have was, 130 when interrupted (what
    was found so far is written)."""
    from harness.discover import emit, known
    from harness.discover.driver import Discovery
    from harness.discover.oracle import Oracle

    oracle = Oracle(config)
    disc = Discovery(opts, oracle)
    interrupted = False
    known_runs, known_seconds = 0, 0.0
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: Any) -> None:
        # Also noted, because a KeyboardInterrupt raised inside a garbage-collector callback
        # (Hypothesis installs one) is printed and dropped: the loop checks the flag each round.
        disc.interrupt = True
        raise KeyboardInterrupt

    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_interrupt)
    try:
        oracle.start()
        disc.run()
        if library and disc.clusters.all:
            started = time.perf_counter()
            known_runs = known.label(disc.clusters.all, library, oracle, config.frameworks)
            known_seconds = time.perf_counter() - started
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
        oracle.stop()
    run = summary(disc, oracle, interrupted, known_runs, known_seconds)
    doc = emit.write_all(config.out, run, disc.clusters.all, opts.seed)
    print(f"{len(doc['clusters'])} clusters ({sum(not c['known'] for c in doc['clusters'])} new) from "
          f"{doc['configs']} configs in {doc['seconds']:.0f} s; {config.out / 'summary.md'}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_NEW if any(not c["known"] for c in doc["clusters"]) else EXIT_OK


def summary(disc: Any, oracle: Any, interrupted: bool, known_runs: int, known_seconds: float) -> dict[str, Any]:
    """discover.json's run-level members."""
    opts, meta = disc.opts, oracle.meta()
    seconds = disc.loop_seconds if disc.loop_seconds is not None else disc.elapsed()  # --known's run not counted
    configs = disc.stream.count
    frameworks = {}
    for fw in opts.frameworks:
        sent = disc.sent.get(fw, 0)
        frameworks[fw] = {"configs": sent, "configs_per_second": sent / max(seconds, 1e-9),
                          "results": oracle.framework_results.get(fw, 0),
                          "framework_seconds": round(oracle.framework_seconds.get(fw, 0.0), 3),
                          "compile_seconds_estimate": round(oracle.compile_seconds(fw), 3),
                          "versions": (meta["frameworks"].get(fw) or {}).get("versions"),
                          "avoided_configs": disc.avoided.get(fw, 0)}
    firsts = sorted((c.first_seconds, c.first_hit) for c in disc.clusters.all)
    step = max(1, len(disc.progress_log) // 200)
    return {
        "seed": opts.seed, "budget": opts.budget if opts.configs is None else None,
        "configs_requested": opts.configs, "configs": configs, "seconds": round(seconds, 2),
        "configs_per_second": configs / max(seconds, 1e-9), "complete": disc.complete and not interrupted,
        "interrupted": interrupted, "ops": list(opts.ops), "devices": list(opts.devices),
        "frameworks": frameworks, "runs": {**disc.runs, "known": known_runs}, "invalid_draws": disc.stream.invalid,
        "flaky": disc.flaky,
        "timeline": [{"seconds": round(s, 2), "configs": n, "clusters": i} for i, (s, n) in enumerate(firsts, 1)],
        "progress": disc.progress_log[::step],
        "time": {**{k: round(v, 3) for k, v in disc.seconds.items()}, "known": round(known_seconds, 3),
                 "runner_parent_cpu": {k: round(v, 3) for k, v in meta["timings"].items()},
                 "oracle_wall": round(oracle.seconds, 3), "oracle_batches": oracle.batches},
        "events": meta["events"], "environment": meta["environment"],
    }
