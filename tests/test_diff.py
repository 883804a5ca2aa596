"""`pool-parity diff`, `run --baseline`, `--between`, and a four-shard flow: small real runs with
deliberately changed inputs, expectations and versions, and a diff that names exactly what changed.

Real runs use torch and jax on the seeds and a few generated cases; where the framework is not the
point, tests/drift_adapter.py changes its answers, plan or version between runs on request.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.diff import DEFAULT_FAIL_ON, KINDS
from tests.helpers import ROOT, seed_cases

GEN = """cases:
  - id: gen-avg
    op: avg_pool
    input: {shape: [1, 1, 4, 4], generator: {kind: arange}}
    matrix: {kernel_size: [2, 3], stride: [1, 2]}
  - id: gen-max
    op: max_pool
    input: {shape: [1, 1, 6, 6], generator: {kind: randn, seed: 1}}
    params: {kernel_size: 3, stride: 1}
"""
GEN_IDS = ["gen-avg-k2-s1", "gen-avg-k2-s2", "gen-avg-k3-s1", "gen-avg-k3-s2", "gen-max"]
PLANTED = '    expect: {jax: {verdict: numeric_mismatch, reason: "planted for the test", link: "https://example.org/x"}}\n'


def suite(tmp: Path, name: str, gen: str = GEN) -> Path:
    """A case directory: the seeds as shipped, plus the generated cases (perhaps edited)."""
    folder = tmp / name
    folder.mkdir()
    shutil.copy(ROOT / "cases" / "seeds.yaml", folder / "seeds.yaml")
    (folder / "gen.yaml").write_text(gen)
    return folder


def run(out: Path, cases: Path, *extra: str, frameworks: str = "torch,jax") -> int:
    return main(["run", str(cases), "--frameworks", frameworks, "--out", str(out), "-q", "--no-isolation",
                 "--jobs", "1", *extra])


def diff(tmp: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp / f"diff-{len(list(tmp.glob('diff-*')))}"
    code = main(["diff", *args, "--out", str(out)])
    return code, json.loads((out / "diff.json").read_text())


def changes(d: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(case, result label, kind) of every changed result."""
    return {(r["case_id"], r["label"], e["kind"]) for r in d["results"] for e in r["changes"]}


def nothing_else(d: dict[str, Any], **allowed: Any) -> None:
    """Every part of the diff not named in `allowed` is empty."""
    parts = {"environment": d["environment"], "cases_added": d["cases"]["added"], "cases_removed": d["cases"]["removed"],
             "cases_changed": d["cases"]["changed"], "results_added": d["results_added"],
             "results_removed": d["results_removed"], "findings": {k: v for k, v in d["findings"].items() if v}}
    assert {k: v for k, v in parts.items() if k not in allowed and v} == {}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torch + jax run of the seeds and the generated cases: the baseline most tests diff against."""
    tmp = tmp_path_factory.mktemp("base")
    assert run(tmp / "run", suite(tmp, "cases")) == 0
    return tmp / "run"


def test_the_same_run_twice_differs_in_nothing(base: Path, tmp_path: Path) -> None:
    assert run(tmp_path / "again", suite(tmp_path, "cases")) == 0
    code, d = diff(tmp_path, str(base), str(tmp_path / "again"), "--fail-on", "any")
    assert code == 0 and d["counts"] == {} and d["results"] == []
    nothing_else(d)
    out = tmp_path / "diff-0"
    assert "Nothing changed." in (out / "diff.md").read_text() and "Nothing changed." in (out / "index.html").read_text()


def test_a_changed_input_shape_is_named_and_nothing_else(base: Path, tmp_path: Path) -> None:
    edited = GEN.replace("shape: [1, 1, 6, 6]", "shape: [1, 1, 7, 7]")
    assert run(tmp_path / "new", suite(tmp_path, "cases", edited)) == 0
    code, d = diff(tmp_path, str(base), str(tmp_path / "new"))
    # kernel 3, stride 1, no padding: 6 -> 4 and 7 -> 5 outputs per dim
    assert changes(d) == {("gen-max", "jax-cpu", "shape-change"), ("gen-max", "torch-cpu", "shape-change")}
    assert {e["before"] == [1, 1, 4, 4] and e["after"] == [1, 1, 5, 5] for r in d["results"] for e in r["changes"]} == {True}
    (case,) = d["cases"]["changed"]
    assert case["case_id"] == "gen-max" and set(case["changes"]) == {"input", "ref_shape"}
    assert case["changes"]["ref_shape"] == [[1, 1, 4, 4], [1, 1, 5, 5]]
    nothing_else(d, cases_changed=True)
    assert code == 0  # shape-change is not in the default --fail-on (the verdicts stayed pass)


def test_a_planted_expectation_changes_one_verdict(base: Path, tmp_path: Path) -> None:
    edited = GEN.replace("    params: {kernel_size: 3, stride: 1}\n", "    params: {kernel_size: 3, stride: 1}\n" + PLANTED)
    assert run(tmp_path / "new", suite(tmp_path, "cases", edited)) == 1  # the jax result is an unexpected pass
    code, d = diff(tmp_path, str(base), str(tmp_path / "new"))
    assert changes(d) == {("gen-max", "jax-cpu", "verdict-change"), ("gen-max", "jax-cpu", "expectation-change")}
    (r,) = d["results"]
    verdict, expectation = r["changes"]
    assert (verdict["before"], verdict["after"], verdict["raw"]) == ("pass", "unexpected_pass", ["pass", "pass"])
    assert expectation["before"] is None and expectation["after"]["reason"] == "planted for the test"
    nothing_else(d)
    assert code == 1  # verdict-change is in the default --fail-on
    assert main(["diff", str(base), str(tmp_path / "new"), "--fail-on", "new-divergence,drift"]) == 0


def test_a_renamed_case_is_removed_and_added(base: Path, tmp_path: Path) -> None:
    assert run(tmp_path / "new", suite(tmp_path, "cases", GEN.replace("id: gen-max", "id: gen-maximum"))) == 0
    code, d = diff(tmp_path, str(base), str(tmp_path / "new"), "--fail-on", "case-removed")
    assert [c["case_id"] for c in d["cases"]["removed"]] == ["gen-max"]
    assert [c["case_id"] for c in d["cases"]["added"]] == ["gen-maximum"]
    assert {r["label"]: r["verdict"] for r in d["cases"]["added"][0]["results"]} == {"jax-cpu": "pass", "torch-cpu": "pass"}
    assert d["results"] == [] and d["counts"] == {"case-added": 1, "case-removed": 1}
    nothing_else(d, cases_added=True, cases_removed=True)
    assert code == 1


def drift_run(out: Path, cases: Path, monkeypatch: pytest.MonkeyPatch, frameworks: str = "drift", **env: str) -> int:
    monkeypatch.setenv("POOL_PARITY_ADAPTERS", "drift=tests.drift_adapter,standin=benchmarks.standin_adapter")
    for name in ("ULPS", "EMULATE", "RAISE", "VERSION", "ONLY"):
        monkeypatch.delenv(f"POOL_PARITY_TEST_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"POOL_PARITY_TEST_{name}", value)
    return run(out, cases, frameworks=frameworks)


@pytest.fixture()
def avg_cases(tmp_path: Path) -> Path:
    path = tmp_path / "avg.yaml"
    path.write_text(GEN.split("  - id: gen-max")[0])
    return path


def test_drift_of_passing_results_is_reported_and_thresholds_decide(avg_cases: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert drift_run(tmp_path / "a", avg_cases, monkeypatch) == 0
    assert drift_run(tmp_path / "b", avg_cases, monkeypatch, ULPS="3") == 0  # 3 ULP: inside float32 tolerance
    code, d = diff(tmp_path, str(tmp_path / "a"), str(tmp_path / "b"))
    assert changes(d) == {(c, "drift-cpu", "drift") for c in GEN_IDS[:4]}
    moves = {r["case_id"]: e for r in d["results"] for e in r["changes"]}
    assert {(e["before"]["max_ulp"], e["after"]["max_ulp"], e["ulp"]) for e in moves.values()} == {(0.0, 3.0, 3.0)}
    # arange(16) in 4x4, 2x2 windows, stride 2: averages 2.5 4.5 10.5 12.5, exact in float32; the
    # largest move is 3 ULP of 12.5 (in [8, 16): one ULP is 2**-20)
    assert moves["gen-avg-k2-s2"]["before"]["max_abs"] == 0.0
    assert moves["gen-avg-k2-s2"]["after"]["max_abs"] == pytest.approx(3 * 2.0**-20, rel=1e-12)
    assert {r["verdict"][0] + ">" + r["verdict"][1] for r in d["results"]} == {"pass>pass"}
    nothing_else(d)
    assert code == 0  # default drift>4ulp
    outcomes = {rule: main(["diff", str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on", rule])
                for rule in ("drift>2ulp", "drift>3ulp", "drift", "drift>1e-6abs", "drift>1e-5abs", "none")}
    assert outcomes == {"drift>2ulp": 1, "drift>3ulp": 0, "drift": 1, "drift>1e-6abs": 1, "drift>1e-5abs": 0, "none": 0}


def test_mode_error_and_version_changes(avg_cases: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert drift_run(tmp_path / "a", avg_cases, monkeypatch) == 0
    assert drift_run(tmp_path / "b", avg_cases, monkeypatch, EMULATE="1", RAISE="1", ONLY="k3-s2", VERSION="1.1") == 1
    code, d = diff(tmp_path, str(tmp_path / "a"), str(tmp_path / "b"))
    assert changes(d) == {("gen-avg-k3-s2", "drift-cpu", k) for k in ("verdict-change", "new-divergence", "mode-change")}
    kinds = {e["kind"]: e for e in d["results"][0]["changes"]}
    assert (kinds["verdict-change"]["before"], kinds["verdict-change"]["after"]) == ("pass", "error")
    assert kinds["mode-change"]["before"]["conversions"] == ["none"]
    assert kinds["mode-change"]["after"] == {"mode": "emulated", "call": "drift(pad(x))",
                                             "conversions": ["pad by hand, then pool"]}
    assert [(e["what"], e["before"], e["after"]) for e in d["environment"]] == [("frameworks.drift.versions.drift", "1.0", "1.1")]
    (found,) = d["findings"]["new"]
    assert found["verdict"] == "error" and "drift adapter refuses this case" in found["explanation"]
    nothing_else(d, environment=True, findings=True)
    assert code == 1
    back, d = diff(tmp_path, str(tmp_path / "b"), str(tmp_path / "a"), "--fail-on", "vanished-divergence")
    assert {k for _, _, k in changes(d)} == {"verdict-change", "vanished-divergence", "mode-change"}
    assert len(d["findings"]["vanished"]) == 1 and d["findings"]["new"] == [] and back == 1


def test_a_crash_in_two_runs_is_no_change_though_its_log_is_in_each_run_dir(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash's error names the run's own log file; the directories differ, the error does not."""
    monkeypatch.setenv("POOL_PARITY_ADAPTERS", "faulty=tests.faulty_adapter")
    cases = tmp_path / "crash.yaml"
    cases.write_text(GEN.split("  - id: gen-max")[0].replace("generator: {kind: arange}}", "generator: {kind: arange}}\n"
                                                                  "    tags: [crash]"))
    for name in ("a", "b"):
        assert main(["run", str(cases), "--frameworks", "faulty", "--out", str(tmp_path / name), "-q", "--jobs", "1"]) == 1
    errors = [json.loads((tmp_path / n / "results.json").read_text())["results"][0]["error"] for n in ("a", "b")]
    assert errors[0] != errors[1] and f"{tmp_path / 'a'}/logs/faulty.log" in errors[0]
    code, d = diff(tmp_path, str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on", "any")
    assert d["counts"] == {} and code == 0


def test_between_two_frameworks_and_two_devices_of_one_run(avg_cases: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert drift_run(tmp_path / "r", avg_cases, monkeypatch, frameworks="standin,drift", ULPS="2") == 0
    code, d = diff(tmp_path, str(tmp_path / "r"), "--between", "standin,drift", "--fail-on", "drift>1ulp")
    assert d["between"] == {"field": "framework", "old": "standin", "new": "drift"}
    # both answer with the rounded reference, one 2 ULP up; their calls differ but do not count
    assert changes(d) == {(c, "cpu", "drift") for c in GEN_IDS[:4]}
    assert {(e["what"], e["before"], e["after"]) for e in d["environment"]} == {
        ("framework.versions.standin", "1", None), ("framework.versions.drift", None, "1.0")}
    assert code == 1
    assert main(["diff", str(tmp_path / "r"), "--between", "drift,standin", "--fail-on", "drift>2ulp"]) == 0
    # one device only was run: --between cpu,gpu names neither two devices nor two frameworks of it
    assert main(["diff", str(tmp_path / "r"), "--between", "cpu,gpu"]) == 2


def test_between_cpu_and_gpu(tmp_path: Path) -> None:
    """torch on both devices; with no GPU here every gpu result is skipped, never pass."""
    cases = ROOT / "cases" / "seeds.yaml"
    assert run(tmp_path / "r", cases, "--devices", "cpu,gpu", frameworks="torch") == 0
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    code, d = diff(tmp_path, str(tmp_path / "r"), "--between", "cpu,gpu")
    gpu = {r["case_id"]: r["verdict"] for r in doc["results"] if r["device"] == "gpu"}
    if set(gpu.values()) != {"skipped"}:
        pytest.skip("a GPU is visible to torch: the cpu-vs-gpu differences are that machine's")
    assert changes(d) == {(c, "torch", "verdict-change") for c in seed_cases()}
    assert {(e["before"], e["after"]) for r in d["results"] for e in r["changes"]} == {("pass", "skipped")}
    assert [(e["what"], e["before"], e["after"]) for e in d["environment"]] == [("torch device", "cpu", "not seen")]
    assert code == 1


def test_between_torch_and_jax_names_the_argmax_emulation(base: Path, tmp_path: Path) -> None:
    """JAX has no argmax pooling, so the seed cases that return indices are emulated there (README
    table); no seed declares an expectation for either, and both pass every seed."""
    code, d = diff(tmp_path, str(base), "--between", "torch,jax")
    with_indices = {c.id for c in seed_cases().values() if c.params.return_indices}
    assert {c for c, _, k in changes(d) if k == "mode-change"} == with_indices
    assert {k for _, _, k in changes(d)} <= {"mode-change", "conversion-change", "drift"}
    assert code == 0


def test_four_shards_merged_and_diffed_against_the_baseline(base: Path, tmp_path: Path) -> None:
    """The CI workflow of docs/diff.md: run --shard K/4 four times, merge with report, diff the merge."""
    edited = GEN.replace("seed: 1}", "seed: 2}").replace(
        "  - id: gen-avg\n    op: avg_pool\n", "  - id: gen-avg\n    op: avg_pool\n" + PLANTED)
    cases = suite(tmp_path, "cases", edited)
    codes = [run(tmp_path / f"shard-{k}", cases, "--shard", f"{k}/4") for k in range(1, 5)]
    assert codes.count(1) >= 1 and set(codes) <= {0, 1}  # the shards holding gen-avg-* fail: unexpected passes
    shards = [str(tmp_path / f"shard-{k}") for k in range(1, 5)]
    assert main(["report", *shards, "--out", str(tmp_path / "merged")]) == 1
    code, d = diff(tmp_path, str(base), str(tmp_path / "merged"))
    assert changes(d) == {(c, "jax-cpu", k) for c in GEN_IDS[:4] for k in ("verdict-change", "expectation-change")}
    assert d["cases"]["changed"] == [{"case_id": "gen-max", "changes": {
        "input values": ["as before", "changed (seed, generator or literal values)"]}}]
    assert len(json.loads((tmp_path / "merged" / "results.json").read_text())["cases"]) == 17 + 5
    nothing_else(d, cases_changed=True)
    assert code == 1
    # the same four shards against themselves: merging loses and adds nothing
    assert main(["report", *shards, "--out", str(tmp_path / "merged2")]) == 1
    assert main(["diff", str(tmp_path / "merged"), str(tmp_path / "merged2"), "--fail-on", "any"]) == 0


def test_run_baseline_writes_the_diff_and_marks_the_changed_result(base: Path, tmp_path: Path) -> None:
    cases = suite(tmp_path, "cases", GEN.replace("seed: 1}", "seed: 2}"))
    out = tmp_path / "new"
    assert run(out, cases, "--baseline", str(base), "--fail-on", "case-change") == 1
    d = json.loads((out / "diff" / "diff.json").read_text())
    assert d["counts"] == {"case-change": 1} and d["failed"] == {"case-change": 1}
    assert (out / "diff" / "diff.md").is_file() and (out / "diff" / "index.html").is_file()
    assert run(tmp_path / "same", suite(tmp_path, "same"), "--baseline", str(base)) == 0
    # one result marked: a planted expectation on jax's gen-max
    planted = GEN.replace("    params: {kernel_size: 3, stride: 1}\n", "    params: {kernel_size: 3, stride: 1}\n" + PLANTED)
    out = tmp_path / "marked"
    assert run(out, suite(tmp_path, "planted", planted), "--baseline", str(base), "--fail-on", "none") == 1  # unexpected pass
    html = (out / "index.html").read_text()
    assert 'href="diff/index.html"' in html and "Compared with the baseline" in html
    marks = re.findall(r'<a class="changed" href="([^"]+)"', html)
    assert marks and set(marks) == {"diff/index.html#r-gen-max/jax-cpu"}  # the matrix cell and the details row
    assert 'id="r-gen-max/jax-cpu"' in (out / "diff" / "index.html").read_text()


def test_marks_on_the_details_pages_of_a_large_report_link_one_folder_up(avg_cases: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.report

    assert drift_run(tmp_path / "a", avg_cases, monkeypatch) == 0
    monkeypatch.setattr(harness.report, "PAGE_SIZE", 2)  # 4 cases: two details pages
    monkeypatch.setenv("POOL_PARITY_TEST_ULPS", "5")
    monkeypatch.setenv("POOL_PARITY_TEST_ONLY", "k3-s2")
    assert run(tmp_path / "b", avg_cases, "--baseline", str(tmp_path / "a"), frameworks="drift") == 1  # drift>4ulp
    link = "diff/index.html#r-gen-avg-k3-s2/drift-cpu"
    assert re.findall(r'class="changed" href="([^"]+)"', (tmp_path / "b" / "index.html").read_text()) == [link]
    pages = {p.name: re.findall(r'class="changed" href="([^"]+)"', p.read_text())
             for p in sorted((tmp_path / "b" / "details").glob("*.html"))}
    assert pages == {"page-001.html": [], "page-002.html": ["../" + link]}


def test_run_baseline_of_one_shard_does_not_report_the_other_shards_as_removed(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "s2"
    assert run(out, suite(tmp_path, "cases"), "--shard", "2/4", "--baseline", str(base), "--fail-on", "any") == 0
    d = json.loads((out / "diff" / "diff.json").read_text())
    assert d["counts"] == {} and d["new"]["cases"] == 6  # 22 cases, every 4th from the 2nd
    # jax's results are not "removed" either (--threads 1: the thread caps of the baseline's two workers)
    assert run(tmp_path / "t", suite(tmp_path, "t"), "--baseline", str(base), "--fail-on", "any", "--threads", "1",
               frameworks="torch") == 0


def test_bad_input_and_usage_are_one_line_and_exit_2(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "results": []}')
    calls = [["diff", str(base), str(tmp_path / "missing")], ["diff", str(base), str(broken)],
             ["diff", str(base)], ["diff", str(base), str(base), str(base)], ["diff", str(base), "--between", "cpu"],
             ["diff", str(base), str(base), "--fail-on", "verdict-change,drift>4ulps"],
             ["diff", str(base), str(base), "--out", str(base)], ["matrix", str(base), "--out", str(base)],
             ["run", str(ROOT / "cases" / "seeds.yaml"), "--fail-on", "any", "--out", str(tmp_path / "x")],
             ["run", str(ROOT / "cases" / "seeds.yaml"), "--baseline", str(broken), "--out", str(tmp_path / "y")]]
    capsys.readouterr()
    for argv in calls:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("pool-parity: "), (argv, err)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()  # refused before anything ran
    assert "Nothing changed" not in (base / "index.html").read_text()  # the run's own report is left alone


def test_diff_and_matrix_import_no_framework(base: Path, tmp_path: Path) -> None:
    code = f"""
import sys
from harness.cli import main
assert main(["diff", {str(base)!r}, {str(base)!r}, "--out", {str(tmp_path / "d")!r}]) == 0
assert main(["matrix", {str(base)!r}, "--out", {str(tmp_path / "m")!r}]) == 0
loaded = {{m.split(".")[0] for m in sys.modules}} & {{"torch", "tensorflow", "keras", "jax", "jaxlib"}}
assert not loaded, loaded
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_matrix_page_highlights_what_changed_per_version_set(avg_cases: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "matrix"
    assert drift_run(runs / "pinned", avg_cases, monkeypatch) == 0
    assert drift_run(runs / "newer", avg_cases, monkeypatch, VERSION="1.1", ULPS="1", ONLY="k2-s1") == 0
    assert drift_run(runs / "older", avg_cases, monkeypatch, VERSION="0.9", RAISE="1", ONLY="k3-s1") == 1
    assert main(["diff", str(runs / "pinned"), str(runs / "older"), "--out", str(runs / "older" / "diff")]) == 1
    assert main(["matrix", *(str(runs / n) for n in ("pinned", "newer", "older")), "--out", str(runs)]) == 0
    m = json.loads((runs / "matrix.json").read_text())
    assert [c["name"] for c in m["columns"]] == ["pinned", "newer", "older"]
    assert [c["versions"] for c in m["columns"]] == [{"drift": "1.0"}, {"drift": "1.1"}, {"drift": "0.9"}]
    changed = {(row["case_id"], n): cell["changes"] for row in m["rows"] for n, cell in row["cells"].items()
               if cell["changes"]}
    assert changed == {("gen-avg-k2-s1", "newer"): ["drift"],
                       ("gen-avg-k3-s1", "older"): ["verdict-change", "new-divergence"]}
    named = {(row["case_id"], n): list(cell["results"]) for row in m["rows"] for n, cell in row["cells"].items()
             if cell["results"]}
    assert named == {("gen-avg-k2-s1", "newer"): ["drift-cpu"], ("gen-avg-k3-s1", "older"): ["drift-cpu"]}
    html = (runs / "index.html").read_text()
    assert html.count('class="cell severe"') == 1 and html.count('class="cell moved"') == 1
    assert 'href="older/diff/index.html"' in html and 'href="older/diff/index.html#r-gen-avg-k3-s1/drift-cpu"' in html
    assert ("| `gen-avg-k3-s1` | older | verdict-change, new-divergence | drift-cpu: verdict-change, new-divergence |"
            in (runs / "matrix.md").read_text())


def test_every_kind_and_the_default_are_documented() -> None:
    doc = (ROOT / "docs" / "diff.md").read_text()
    assert f"`{DEFAULT_FAIL_ON}`" in doc
    assert [k for k in KINDS if f"`{k}`" not in doc] == []
