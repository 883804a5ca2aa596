"""Runner: worker isolation, crash/hang recovery, expectations, results on disk."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness.cli import main

CASE = """
  - id: {id}
    op: max_pool
    input: {{shape: [1, 1, 4, 4], generator: {{kind: randn, seed: 1}}}}
    params: {{kernel_size: 2}}
    tags: [{tag}]
"""


def suite(tmp_path: Path, tags: list[str], extra: str = "") -> Path:
    body = "cases:" + "".join(CASE.format(id=f"c{i}-{t}", tag=t) for i, t in enumerate(tags)) + extra
    path = tmp_path / "cases.yaml"
    path.write_text(body)
    return path


@pytest.fixture(autouse=True)
def faulty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_PARITY_ADAPTERS", "faulty=tests.faulty_adapter")


def run(tmp_path: Path, cases: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / "out"
    code = main(["run", str(cases), "--frameworks", "faulty", "--out", str(out), "-q", "--jobs", "1", *args])
    return code, json.loads((out / "results.json").read_text())


def verdicts(doc: dict) -> dict[str, str]:
    return {r["case_id"]: r["verdict"] for r in doc["results"]}


def test_crash_and_hang_cost_only_their_case(tmp_path: Path) -> None:
    cases = suite(tmp_path, ["ok", "crash", "ok", "hang", "ok", "raise", "ok"])
    code, doc = run(tmp_path, cases, "--case-timeout", "3")
    v = verdicts(doc)
    assert code == 1
    assert v == {"c0-ok": "pass", "c1-crash": "error", "c2-ok": "pass", "c3-hang": "error",
                 "c4-ok": "pass", "c5-raise": "error", "c6-ok": "pass"}
    reasons = {r["case_id"]: r["reason"] for r in doc["results"]}
    assert "signal 6" in reasons["c1-crash"]
    assert "timed out after 3s" in reasons["c3-hang"]
    assert reasons["c5-raise"] == "ValueError: faulty adapter refuses this case"
    assert len(doc["meta"]["events"]) == 2 and all("worker restarted" in e for e in doc["meta"]["events"])
    report = (tmp_path / "out" / "index.html").read_text()
    assert "worker restarted" in report


def test_a_workers_own_messages_go_to_its_log_not_the_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, doc = run(tmp_path, suite(tmp_path, ["ok", "crash", "ok"]))
    log = tmp_path / "out" / "logs" / "faulty.log"
    assert code == 1 and "aborting on purpose" in log.read_text()
    assert "aborting on purpose" not in capfd.readouterr().err
    (event,) = doc["meta"]["events"]
    assert f"its messages are in {log}" in event


def test_death_between_cases_is_charged_to_the_case_that_causes_it(tmp_path: Path) -> None:
    # The worker dies sending its batch's answers (no case running): everything in flight is
    # retried, retried cases run one at a time, and only the case that kills it ends in error.
    cases = suite(tmp_path, ["ok", "ok", "unpicklable", "ok", "ok", "ok"])
    code, doc = run(tmp_path, cases)
    v = verdicts(doc)
    assert code == 1
    assert v == {"c0-ok": "pass", "c1-ok": "pass", "c2-unpicklable": "error", "c3-ok": "pass", "c4-ok": "pass",
                 "c5-ok": "pass"}
    reason = {r["case_id"]: r["reason"] for r in doc["results"]}["c2-unpicklable"]
    assert "worker crashed" in reason and "3 times" in reason
    assert all("between cases" in e for e in doc["meta"]["events"]), doc["meta"]["events"]


def test_wrong_answer_is_a_numeric_mismatch_and_exit_1(tmp_path: Path) -> None:
    code, doc = run(tmp_path, suite(tmp_path, ["ok", "wrong"]))
    assert code == 1 and verdicts(doc)["c1-wrong"] == "numeric_mismatch"
    out = next(r for r in doc["results"] if r["case_id"] == "c1-wrong")["comparison"]["output"]
    assert out["mismatches"] > 0 and out["first"] and out["max_abs"] > 0


def test_known_divergence_and_strict_unexpected_pass(tmp_path: Path) -> None:
    extra = textwrap.dedent("""
      - id: known
        op: max_pool
        input: {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 1}}
        params: {kernel_size: 2}
        tags: [wrong]
        expect: {faulty: {verdict: numeric_mismatch, reason: returns zeros, link: "https://example.org/1"}}
    """).replace("\n", "\n  ")
    code, doc = run(tmp_path, suite(tmp_path, ["ok"], extra))
    assert code == 0 and verdicts(doc)["known"] == "known_divergence"
    fixed = suite(tmp_path, ["ok"], extra.replace("tags: [wrong]", "tags: [ok]"))
    code, doc = run(tmp_path, fixed)
    assert code == 1 and verdicts(doc)["known"] == "unexpected_pass"


def test_machine_dependent_expectation_passes_either_way_and_says_which(tmp_path: Path) -> None:
    extra = textwrap.dedent("""
      - id: either
        op: max_pool
        input: {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 1}}
        params: {kernel_size: 2}
        tags: [wrong]
        expect: {faulty: {verdict: [numeric_mismatch, pass], reason: zeros on some CPUs, condition: AVX-512}}
    """).replace("\n", "\n  ")
    for tag, raw, final in (("wrong", "numeric_mismatch", "known_divergence"), ("ok", "pass", "pass")):
        code, doc = run(tmp_path, suite(tmp_path, ["ok"], extra.replace("tags: [wrong]", f"tags: [{tag}]")))
        result = next(r for r in doc["results"] if r["case_id"] == "either")
        assert code == 0 and (result["raw_verdict"], result["verdict"]) == (raw, final)
        assert result["reason"].startswith(f"machine-dependent (AVX-512): {raw} on this machine")
        assert result["expectation"]["machine_dependent"] is True
        assert result["expectation"]["verdict"] == ["numeric_mismatch", "pass"]
        from harness.findings import render_markdown

        text = render_markdown(doc)
        assert "## Machine-dependent outcomes" in text and f"| `either` | faulty-cpu | {raw} |" in text


def test_a_framework_that_is_not_installed_is_skipped_and_a_broken_one_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_PARITY_ADAPTERS", "faulty=tests.faulty_adapter,absent=tests.absent_adapter,"
                                               "broken=tests.broken_adapter")
    for isolation in ((), ("--no-isolation",)):
        out = tmp_path / f"out{len(isolation)}"
        code = main(["run", str(suite(tmp_path, ["ok"])), "--frameworks", "faulty,absent,broken", "--out", str(out),
                     "-q", *isolation])
        doc = json.loads((out / "results.json").read_text())
        by_fw = {r["framework"]: r for r in doc["results"]}
        assert code == 1  # the broken one fails the run
        assert by_fw["faulty"]["verdict"] == "pass"
        assert by_fw["absent"]["verdict"] == "skipped"
        assert "absent is not installed here" in by_fw["absent"]["reason"]
        assert "pool_parity_no_such_framework" in by_fw["absent"]["reason"]
        assert by_fw["broken"]["verdict"] == "error" and "libframework.so" in by_fw["broken"]["reason"]
        assert doc["meta"]["frameworks"]["absent"]["not_installed"] is True
        assert doc["meta"]["frameworks"]["broken"]["not_installed"] is False
        assert "not installed here" in (out / "index.html").read_text()


def test_an_idle_core_goes_to_the_framework_with_the_most_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One framework's queue outlasting the others gets one more worker once a core is idle."""
    import harness.run

    monkeypatch.setattr(harness.run, "LEND_SECONDS", 0.5)
    monkeypatch.setattr(harness.run, "default_jobs", lambda: 2)
    code, doc = run(tmp_path, suite(tmp_path, ["slow"] * 24))
    assert code == 0 and set(verdicts(doc).values()) == {"pass"}
    lent = [e for e in doc["meta"]["events"] if "one more worker for an idle core" in e]
    assert len(lent) == 1 and lent[0].startswith("faulty: ")


def test_isolation_off_runs_in_process(tmp_path: Path) -> None:
    code, doc = run(tmp_path, suite(tmp_path, ["ok", "raise"]), "--no-isolation")
    assert code == 1 and verdicts(doc) == {"c0-ok": "pass", "c1-raise": "error"}


def test_missing_gpu_is_skipped_never_passed(tmp_path: Path) -> None:
    code, doc = run(tmp_path, suite(tmp_path, ["ok"]), "--devices", "cpu,gpu")
    by_dev = {r["device"]: r for r in doc["results"]}
    assert by_dev["cpu"]["verdict"] == "pass"
    assert by_dev["gpu"]["verdict"] == "skipped" and "no gpu device" in by_dev["gpu"]["reason"]
    assert code == 0


def test_parallel_jobs_give_the_serial_results(tmp_path: Path) -> None:
    cases = suite(tmp_path, ["ok", "wrong", "ok", "raise", "ok", "ok"])
    _, serial = run(tmp_path, cases, "--jobs", "1")
    _, parallel = run(tmp_path, cases, "--jobs", "2")

    def strip(doc: dict) -> list:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in doc["results"]]

    assert strip(serial) == strip(parallel)


def test_shards_partition_the_suite(tmp_path: Path) -> None:
    cases = suite(tmp_path, ["ok"] * 5)
    ids = []
    for k in (1, 2):
        _, doc = run(tmp_path, cases, "--shard", f"{k}/2")
        ids.append([c["id"] for c in doc["cases"]])
    assert ids[0] == ["c0-ok", "c2-ok", "c4-ok"] and ids[1] == ["c1-ok", "c3-ok"]


def test_save_arrays_writes_the_documented_keys(tmp_path: Path) -> None:
    import numpy as np

    run(tmp_path, suite(tmp_path, ["ok"]), "--save-arrays")
    with np.load(tmp_path / "out" / "arrays.npz") as npz:
        keys = set(npz.files)
        assert {"c0-ok/input", "c0-ok/reference/output", "c0-ok/faulty-cpu/output"} <= keys
        np.testing.assert_array_equal(npz["c0-ok/faulty-cpu/output"], npz["c0-ok/reference/output"])


def test_report_merges_shards_and_refuses_mismatched_versions(tmp_path: Path) -> None:
    cases = suite(tmp_path, ["ok", "wrong", "ok", "ok"])
    for k in (1, 2):
        main(["run", str(cases), "--frameworks", "faulty", "--out", str(tmp_path / f"s{k}"), "-q", "--jobs", "1",
              "--shard", f"{k}/2"])
    _, whole = run(tmp_path, cases)
    merged = tmp_path / "merged"
    code = main(["report", str(tmp_path / "s1" / "results.json"), str(tmp_path / "s2"), "--out", str(merged)])
    doc = json.loads((merged / "results.json").read_text())
    assert code == 1  # the merged run still has its one disagreement
    assert [c["id"] for c in doc["cases"]] == [c["id"] for c in whole["cases"]]
    assert verdicts(doc) == verdicts(whole) and doc["meta"]["merged_from"] == 2
    assert (merged / "index.html").exists() and (merged / "junit.xml").exists()

    s2 = json.loads((tmp_path / "s2" / "results.json").read_text())
    s2["meta"]["frameworks"]["faulty"]["versions"]["faulty"] = "2.0"
    (tmp_path / "s2" / "results.json").write_text(json.dumps(s2))
    assert main(["report", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(merged)]) == 2
    assert main(["report", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(merged),
                 "--allow-version-mismatch"]) == 1


def test_interrupted_results_stay_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import run as run_mod

    calls = {"n": 0}
    real = run_mod.Runner._finish

    def finish_then_interrupt(self, state):  # noqa: ANN001, ANN202
        real(self, state)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_mod.Runner, "_finish", finish_then_interrupt)
    out = tmp_path / "out"
    code = main(["run", str(suite(tmp_path, ["ok"] * 5)), "--frameworks", "faulty", "--out", str(out), "-q",
                 "--jobs", "1"])
    doc = json.loads((out / "results.json").read_text())
    assert code == 130 and doc["meta"]["complete"] is False
    assert 2 <= len(doc["cases"]) < 5 and "Incomplete run" in (out / "index.html").read_text()


def test_a_case_whose_reference_fails_costs_that_case_not_the_run(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import run as run_mod

    real = run_mod.reference.compute

    def compute(case, x, upstream=None):  # noqa: ANN001, ANN202 - a reference bug on one case
        if "refbug" in case.tags:
            raise RuntimeError("reference bug")
        return real(case, x, upstream)

    monkeypatch.setattr(run_mod.reference, "compute", compute)
    code, doc = run(tmp_path, suite(tmp_path, ["ok", "refbug", "ok"]))
    assert code == 1 and doc["meta"]["complete"] is True
    assert verdicts(doc) == {"c0-ok": "pass", "c1-refbug": "error", "c2-ok": "pass"}
    (bad,) = [r for r in doc["results"] if r["case_id"] == "c1-refbug"]
    assert bad["reason"] == bad["error"] == "could not build the reference: RuntimeError: reference bug"
    case = next(c for c in doc["cases"] if c["id"] == "c1-refbug")
    assert case["ref_shape"] is None and case["input_code"] == "" and case["agreement"] == []
    assert "could not build the reference" in (tmp_path / "out" / "index.html").read_text()
    assert main(["report", str(tmp_path / "out"), "--out", str(tmp_path / "again")]) == 1  # it re-renders


@pytest.mark.parametrize("budget,peak", [(None, 5), (1, 1)])
def test_open_cases_stay_within_the_memory_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  budget: int | None, peak: int) -> None:
    """Cases are opened (input and reference built) ahead of the workers, up to OPEN_BYTES of
    arrays: with the default every case of a small suite is open at once, with 1 byte one at a time."""
    from harness import run as run_mod

    if budget is not None:
        monkeypatch.setattr(run_mod, "OPEN_BYTES", budget)
    count = {"open": 0, "peak": 0}
    real_open, real_finish = run_mod.Runner._open, run_mod.Runner._finish

    def spy_open(self, order):  # noqa: ANN001, ANN202
        count["open"] += 1
        count["peak"] = max(count["peak"], count["open"])
        return real_open(self, order)

    def spy_finish(self, state):  # noqa: ANN001, ANN202
        count["open"] -= 1
        return real_finish(self, state)

    monkeypatch.setattr(run_mod.Runner, "_open", spy_open)
    monkeypatch.setattr(run_mod.Runner, "_finish", spy_finish)
    code, doc = run(tmp_path, suite(tmp_path, ["ok"] * 5))
    assert code == 0 and set(verdicts(doc).values()) == {"pass"} and len(doc["cases"]) == 5
    assert count["peak"] == peak and count["open"] == 0


def test_a_run_stopped_by_an_error_is_written_and_marked_incomplete(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import run as run_mod

    real = run_mod.Runner._finish

    def finish_then_fail(self, state):  # noqa: ANN001, ANN202
        real(self, state)
        if self.done == 2:
            raise RuntimeError("a bug in the run loop")

    monkeypatch.setattr(run_mod.Runner, "_finish", finish_then_fail)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        main(["run", str(suite(tmp_path, ["ok"] * 5)), "--frameworks", "faulty", "--out", str(out), "-q", "--jobs", "1"])
    doc = json.loads((out / "results.json").read_text())
    assert doc["meta"]["complete"] is False and len(doc["cases"]) == 2


def test_threads_cap_reaches_the_workers_and_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _, doc = run(tmp_path, suite(tmp_path, ["ok"]), "--threads", "1")
    assert doc["meta"]["frameworks"]["faulty"]["env"]["OMP_NUM_THREADS"] == "1"
    assert doc["meta"]["worker_env"]["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's own setting wins
    _, doc = run(tmp_path, suite(tmp_path, ["ok"]), "--threads", "1")
    assert doc["meta"]["frameworks"]["faulty"]["env"]["OMP_NUM_THREADS"] == "3"


def test_peak_rss_is_the_process_own_not_a_big_parents(tmp_path: Path) -> None:
    import subprocess
    import sys

    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # resident, not just reserved
    out = subprocess.run([sys.executable, "-c", "from harness.run import peak_rss_mb; print(peak_rss_mb())"],
                         capture_output=True, text=True, check=True).stdout
    del ballast
    assert 0 < float(out) < 200, out  # a bare interpreter + harness.run: tens of MB, not the parent's 300+


def test_large_inputs_and_outputs_both_ways_do_not_deadlock_the_pipe(tmp_path: Path) -> None:
    # Batches of 2 MB go out while answers of 2 MB come back: neither side may wait on a full
    # pipe while the other waits on it.
    import threading

    big = ("cases:" + "".join(
        f"\n  - {{id: big{i}, op: max_pool, input: {{shape: [1, 8, 256, 256], generator: {{kind: randn, seed: {i}}}}},"
        " params: {kernel_size: 1}}" for i in range(12)) + "\n")
    path = tmp_path / "big.yaml"
    path.write_text(big)
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=run(tmp_path, path)), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the run hung"
    code, doc = box["result"]
    assert code == 0 and set(verdicts(doc).values()) == {"pass"} and len(doc["results"]) == 12


def test_cases_of_one_signature_share_a_plan_and_others_do_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POOL_PARITY_ADAPTERS")
    body = "cases:" + "".join(
        f"\n  - {{id: {cid}, op: {op}, input: {{shape: {shape}, generator: {{kind: randn, seed: {i}}}}}, params: {params}}}"
        for i, (cid, op, shape, params) in enumerate([
            ("a", "max_pool", "[1, 2, 6, 6]", "{kernel_size: 2}"),
            ("b", "max_pool", "[1, 2, 6, 6]", "{kernel_size: 2}"),
            ("c", "max_pool", "[1, 2, 6, 6]", "{kernel_size: 3}"),
            ("d", "max_pool", "[1, 2, 7, 7]", "{kernel_size: 2}"),
            ("e", "avg_pool", "[1, 2, 6, 6]", "{kernel_size: 2}")])) + "\n"
    path = tmp_path / "plans.yaml"
    path.write_text(body)
    from harness.adapters import pytorch

    planned: list[str] = []
    real_plan = pytorch.plan
    monkeypatch.setattr(pytorch, "plan", lambda case, backend=None: planned.append(case.id) or real_plan(case, backend))
    out = tmp_path / "out"
    assert main(["run", str(path), "--frameworks", "torch", "--no-isolation", "--out", str(out), "-q"]) == 0
    assert planned == ["a", "c", "d", "e"]  # b has a's signature
    doc = json.loads((out / "results.json").read_text())
    r = {x["case_id"]: (x["call"], x["repro"]) for x in doc["results"]}
    assert r["a"] == r["b"] == r["d"] and "kernel_size=(2, 2)" in r["a"][0]  # the shape does not enter this call
    assert len({r["a"], r["c"], r["e"]}) == 3 and "kernel_size=(3, 3)" in r["c"][0] and "avg_pool" in r["e"][0]
    assert set(verdicts(doc).values()) == {"pass"}


def test_every_field_written_is_documented(tmp_path: Path) -> None:
    """docs/results.md names every key a run writes (meta, cases, results, comparisons, and the
    window a differing result records, for max with indices and for averages)."""
    extra = """
  - id: avg-wrong
    op: avg_pool
    input: {shape: [1, 1, 5, 5], generator: {kind: randn, seed: 2}}
    params: {kernel_size: 3, stride: 2, ceil_mode: true}
    tags: [wrong]
  - id: max-wrong-indices
    op: max_pool
    input: {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 3}}
    params: {kernel_size: 2, return_indices: true}
    tags: [wrong]
"""
    _, doc = run(tmp_path, suite(tmp_path, ["ok", "wrong"], extra))
    documented = (Path(__file__).parent.parent / "docs" / "results.md").read_text()
    keys = set(doc) | set(doc["meta"]) | {k for c in doc["cases"] for k in c}
    keys |= {k for c in doc["cases"] for f in c.get("focus", []) for k in f}
    windows = []
    for r in doc["results"]:
        keys |= set(r) | set(r.get("comparison") or {}) | set((r.get("comparison") or {}).get("output") or {})
        windows += [w for w in [(r.get("comparison") or {}).get("window")] if w]
    assert len(windows) == 3 and {"divisor", "indices", "maxima"} <= {k for w in windows for k in w}
    for w in windows:
        keys |= set(w) | {k for part in ("output", "divisor", "indices") for k in w.get(part) or {}}
    assert sorted(k for k in keys if f'"{k}"' not in documented) == []


def test_stage_clock_charges_each_stretch_to_the_stage_that_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parent CPU by stage: the time between two switches goes to the stage that was running,
    the loop's (None) to no stage, and a switch to the running stage reads no clock."""
    from harness import run

    ticks = iter([0.0, 1.0, 3.0, 6.0, 10.0])
    reads = []

    def clock() -> float:
        reads.append(1)
        return next(ticks)

    monkeypatch.setattr(run.time, "process_time", clock)
    timings = {"inputs": 0.0, "compare": 0.0}
    stages = run._Stages(timings)  # reads 0.0, loop running
    assert stages.to("inputs") is None  # 1.0: the loop's second is nobody's
    assert stages.to("inputs") == "inputs" and len(reads) == 2  # no change, no read
    assert stages.to("compare") == "inputs"  # 3.0
    stages.to(None)  # 6.0
    stages.to("inputs")  # 10.0
    assert timings == {"inputs": 2.0, "compare": 3.0}


def test_case_records_name_the_special_values_and_every_frameworks_value_at_a_window(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_PARITY_ADAPTERS", "good=tests.faulty_adapter,wrongdiv=tests.divisor_adapter")
    path = tmp_path / "cases.yaml"
    path.write_text("""cases:
  - id: plain
    op: max_pool
    input: {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 1}}
    params: {kernel_size: 2}
  - id: specials
    op: max_pool
    input: {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 1}, inject: [{value: nan, at: [[0, 0, 1, 1]]},
            {value: -inf, at: [[0, 0, 3, 3]]}]}
    params: {kernel_size: 2}
  - id: ceil-avg
    op: avg_pool
    input: {shape: [1, 1, 5, 5], generator: {kind: arange}}
    params: {kernel_size: 2, ceil_mode: true}
""")
    out = tmp_path / "out"
    assert main(["run", str(path), "--frameworks", "good,wrongdiv", "--out", str(out), "-q", "--jobs", "1"]) == 1
    cases = {c["id"]: c for c in json.loads((out / "results.json").read_text())["cases"]}
    assert [cases[i]["special"] for i in ("plain", "specials")] == [[], ["nan", "-inf"]]
    assert "focus" not in cases["plain"]
    # arange(25) as 5x5, k=2, ceil: the corner window holds only 24; the reference says 24, the
    # planted bug 24/4 = 6. Shown: that element, with both frameworks' values.
    (focus,) = cases["ceil-avg"]["focus"]
    assert focus == {"at": [0, 0, 2, 2], "reference": 24.0, "values": {"good-cpu": 24.0, "wrongdiv-cpu": 6.0}}


def test_a_lock_a_framework_made_is_released_when_its_worker_stops(tmp_path: Path) -> None:
    # The worker skips interpreter teardown (os._exit); a multiprocessing lock it made (tqdm's,
    # in torch.onnx.export) must still be released, or the resource tracker warns at the end of
    # every run: "There appear to be 1 leaked semaphore objects".
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "POOL_PARITY_ADAPTERS": "faulty=tests.faulty_adapter", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(suite(tmp_path, ["lock", "ok"])),
                           "--frameworks", "faulty", "--out", str(tmp_path / "out"), "-q", "--jobs", "1"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=root)
    assert done.returncode == 0, done.stderr
    assert "leaked semaphore" not in done.stderr
