"""The benchmark's own pieces still work (its figures are printed, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def test_standin_run_goes_through_the_real_runner(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench
    import suite

    yaml_path, _ = suite.write(12, tmp_path / "suite")
    alone, stages = bench.standin_overhead(yaml_path, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(doc["results"]) == 36 and {r["verdict"] for r in doc["results"]} == {"pass"}
    assert {r["framework"] for r in doc["results"]} == {"s1", "s2", "s3"}
    assert alone > 0 and stages["compare"] > 0 and stages["ipc"] == 0.0  # in-process: no pipes
