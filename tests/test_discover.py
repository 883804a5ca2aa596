"""`pool-parity discover` end to end, against stand-in frameworks with planted divergences
(tests/planted_adapter.py) and one without (tests/clean_adapter.py), through the real Runner
and worker processes."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.discover import configs
from harness.load import read_file
from harness.normalise import normalise
from tests.helpers import ROOT
from tests.planted_adapter import FLOAT16_ERROR

ADAPTERS = "planted=tests.planted_adapter,clean=tests.clean_adapter,flaky=tests.flaky_adapter"
CONFIGS = "160"


@pytest.fixture(autouse=True)
def standins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_PARITY_ADAPTERS", ADAPTERS)


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("discover")
    os.environ["POOL_PARITY_ADAPTERS"] = ADAPTERS
    code = main(["discover", "--configs", CONFIGS, "--seed", "1", "--frameworks", "planted,clean",
                 "--ops", "max_pool,avg_pool", "--out", str(out), "-q"])
    assert code == 1  # clusters found, none of them known
    return out, json.loads((out / "discover.json").read_text())


def _cluster(doc: dict, **signature: str) -> list[dict]:
    return [c for c in doc["clusters"] if all(c["signature"][k] == v for k, v in signature.items())]


def _minimal(out: Path, cluster: dict):  # noqa: ANN202
    [case] = normalise(read_file(out / cluster["case_file"]))
    return case


def test_each_planted_cause_is_exactly_one_cluster_and_the_clean_framework_none(found: tuple[Path, dict]) -> None:
    _, doc = found
    assert doc["configs"] == int(CONFIGS) and doc["complete"]
    assert {c["signature"]["framework"] for c in doc["clusters"]} == {"planted"}
    assert len(_cluster(doc, kind="output:values", op="avg_pool")) == 1  # wrong divisor on ceil windows
    assert len(_cluster(doc, kind="output:nan_missing", op="max_pool")) == 1  # NaN dropped
    assert len(_cluster(doc, kind="error", op="avg_pool")) == 1  # the float16 error
    assert len(doc["clusters"]) == 3
    for c in doc["clusters"]:
        assert c["shrink"]["minimal"] and c["known"] is False and c["reproduced"]
        assert c["configs_before_first_hit"] >= 0 and c["severity"]["first"]["part"]


def test_wrong_divisor_shrinks_to_the_hand_derived_case(found: tuple[Path, dict]) -> None:
    """By hand from the plant: only a ceil-mode window reaching past the padded extent is
    divided wrongly. A kernel of 1 never reaches past; stride 1 adds no ceil window; so k = s =
    2, and the shortest input with such a window is L = 3 (windows [0, 1] and [2, 3), the second
    one real tap: reference 1, plant 1/2 on a constant 1 input). One dim, N = C = 1, float32."""
    out, doc = found
    [c] = _cluster(doc, kind="output:values")
    case = _minimal(out, c)
    assert case.op == "avg_pool" and case.input.shape == (1, 1, 3) and case.input.dtype == "float32"
    assert case.params.kernel_size == (2,) and case.params.stride == (2,) and case.params.padding == ((0, 0),)
    assert case.params.ceil_mode and case.params.divisor_override is None and not case.grad
    assert case.input.gen == {"kind": "constant", "value": 1.0} and not case.input.inject
    assert c["key"] == ["ceil_mode"] and c["pinned"]["ceil_mode"] == "true"
    assert c["severity"]["minimal"]["max_abs"] == pytest.approx(0.5)


def test_nan_dropped_shrinks_to_one_nan(found: tuple[Path, dict]) -> None:
    """By hand: a single element that is NaN, pooled by a kernel of 1: reference NaN, plant -inf."""
    out, doc = found
    [c] = _cluster(doc, kind="output:nan_missing")
    case = _minimal(out, c)
    assert case.op == "max_pool" and case.input.shape == (1, 1, 1) and case.params.kernel_size == (1,)
    assert case.input.dtype == "float32" and not case.grad and case.params.padding == ((0, 0),)
    [inj] = case.input.inject
    assert math.isnan(inj.value) and inj.at == ((0, 0, 0),)
    assert c["key"] == ["nan"] and c["pinned"]["input.inject[0]"] == "nan"


def test_the_dtype_error_shrinks_to_the_smallest_float16_average(found: tuple[Path, dict]) -> None:
    out, doc = found
    [c] = _cluster(doc, kind="error")
    case = _minimal(out, c)
    assert c["signature"]["detail"] == "TypeError: planted"
    assert case.op == "avg_pool" and case.input.shape == (1, 1, 1) and case.params.kernel_size == (1,)
    assert case.input.dtype == "float16" and not case.grad and not case.params.ceil_mode
    assert c["key"] == ["dtype=float16"] and c["pinned"]["dtype"] == "float16"


def test_the_emitted_cases_replay_with_pool_parity_run(found: tuple[Path, dict], tmp_path: Path) -> None:
    out, doc = found
    code = main(["run", str(out / "discovered"), "--frameworks", "planted,clean", "--out", str(tmp_path / "r"), "-q"])
    assert code == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())["results"]
    planted = {r["case_id"]: r for r in results if r["framework"] == "planted"}
    assert len(planted) == 3 and {r["verdict"] for r in planted.values()} == {"known_divergence"}
    errors = [r for r in planted.values() if r["raw_verdict"] == "error"]
    assert [r["error"] for r in errors] == [f"TypeError: {FLOAT16_ERROR}"]
    assert {r["verdict"] for r in results if r["framework"] == "clean"} == {"pass"}


def test_repro_scripts_are_standalone_input_code_plus_the_adapters_repro(found: tuple[Path, dict]) -> None:
    out, doc = found
    for c in doc["clusters"]:
        [script] = c["repro_files"]
        assert Path(script).name == f"{c['id']}_planted.py"
        proc = subprocess.run([sys.executable, str(out / script)], capture_output=True, text=True,
                              cwd=out, env={"PATH": os.environ.get("PATH", "")})  # no harness on the path
        assert proc.returncode == 0, proc.stderr[-1000:]
        case = _minimal(out, c)
        assert proc.stdout.startswith("[[") and f"shape {list(case.input.shape)}" in script_text(out, script)


def script_text(out: Path, script: str) -> str:
    return (out / script).read_text()


def test_outputs_summary_and_report_rank_the_clusters(found: tuple[Path, dict]) -> None:
    out, doc = found
    summary = (out / "summary.md").read_text()
    html = (out / "index.html").read_text()
    for c in doc["clusters"]:
        assert c["id"] in summary and c["id"] in html
    # silent wrong values before the loud error
    kinds = [c["signature"]["kind"] for c in doc["clusters"]]
    assert kinds.index("error") == len(kinds) - 1
    assert doc["frameworks"]["planted"]["configs"] == int(CONFIGS) and doc["frameworks"]["clean"]["configs_per_second"] > 0
    assert {"generate", "oracle", "bookkeeping"} <= set(doc["time"])


def test_known_labels_only_the_clusters_a_library_declares(found: tuple[Path, dict], tmp_path: Path) -> None:
    """A library holding a NaN case for the planted framework labels that cluster known (with the
    case) and no other; the library never feeds generation (same configs, same clusters)."""
    out, doc = found
    library = tmp_path / "lib.yaml"
    library.write_text(yaml.safe_dump({"cases": [{
        "id": "lib-nan", "op": "max_pool",
        "input": {"shape": [1, 1, 6], "generator": {"kind": "randn", "seed": 3}, "inject": [{"value": "nan", "at": [[0, 0, 2]]}]},
        "params": {"kernel_size": 2}, "frameworks": ["planted"],
        "expect": {"planted": {"verdict": "numeric_mismatch", "reason": "NaN dropped"}}}]}))
    again = tmp_path / "again"
    code = main(["discover", "--configs", CONFIGS, "--seed", "1", "--frameworks", "planted,clean",
                 "--ops", "max_pool,avg_pool", "--known", str(library), "--out", str(again), "-q"])
    labelled = json.loads((again / "discover.json").read_text())
    assert code == 1  # two clusters are still new
    known = {c["signature"]["kind"]: c["known_case"] for c in labelled["clusters"]}
    assert known["output:nan_missing"]["case"] == "lib-nan" and known["output:nan_missing"]["declared"]
    assert known["output:values"] is None and known["error"] is None
    assert labelled["clusters"][-1]["known"]  # known ones rank after the new ones
    strip = [(c["text"], c["key"], c["first_hit_config"]) for c in doc["clusters"]]
    assert sorted(strip) == sorted((c["text"], c["key"], c["first_hit_config"]) for c in labelled["clusters"])


def test_same_seed_and_config_count_give_the_same_clusters(found: tuple[Path, dict], tmp_path: Path) -> None:
    out, doc = found
    again = tmp_path / "again"
    main(["discover", "--configs", CONFIGS, "--seed", "1", "--frameworks", "planted,clean",
          "--ops", "max_pool,avg_pool", "--out", str(again), "-q"])
    second = json.loads((again / "discover.json").read_text())
    fields = ("id", "text", "key", "pinned", "free", "first_hit_config", "examples", "shrink")
    for a, b in zip(second["clusters"], doc["clusters"]):
        assert {k: a[k] for k in fields} == {k: b[k] for k in fields}
    assert len(second["clusters"]) == len(doc["clusters"]) and second["runs"] == doc["runs"]
    for c in doc["clusters"]:
        assert (again / c["case_file"]).read_text() == (out / c["case_file"]).read_text()


def test_a_flaky_answer_is_reported_not_clustered(tmp_path: Path) -> None:
    out = tmp_path / "flaky"
    code = main(["discover", "--configs", "24", "--frameworks", "flaky", "--ops", "global_max_pool",
                 "--out", str(out), "-q"])
    doc = json.loads((out / "discover.json").read_text())
    assert code == 0 and doc["clusters"] == []
    assert doc["flaky"] and all(f["rerun"] == "no divergence" for f in doc["flaky"])


def test_ctrl_c_keeps_what_was_found_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    env = {**os.environ, "POOL_PARITY_ADAPTERS": ADAPTERS, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "discover", "--budget", "120", "--frameworks", "planted",
                             "--ops", "max_pool,avg_pool", "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a shell's background job may have SIGINT ignored, and children inherit that
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(15)  # workers started, some rounds run
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running 120 s after SIGINT: {err[-3000:]}")
    assert proc.returncode == 130, err[-2000:]
    doc = json.loads((out / "discover.json").read_text())
    assert doc["interrupted"] and not doc["complete"] and doc["configs"] > 0
    for c in doc["clusters"]:  # whatever was found is written, and loads
        normalise(read_file(out / c["case_file"]))
    assert "discover:" in err and "configs/s" in err  # the progress line


@pytest.mark.parametrize("args,message", [
    (["--budget", "10", "--configs", "5"], "not allowed with argument"),
    (["--configs", "0"], "--configs must be >= 1"),
    (["--budget", "-3"], "--budget must be > 0"),
    (["--ops", "max_pool,bogus"], "unknown 'bogus'"),
])
def test_bad_usage_exits_2_with_one_line(args: list[str], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["discover", *args, "--out", str(tmp_path / "o")])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code  # type: ignore[assignment]
    assert code == 2 and message in capsys.readouterr().err


def test_a_bad_known_library_exits_2_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cases:\n  - id: x\n    op: max_poo\n    input: {shape: [1, 1, 4]}\n")
    assert main(["discover", "--configs", "5", "--known", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:3: case 'x': op:" in err and not (tmp_path / "o" / "discover.json").exists()


def test_a_discovered_case_file_is_a_normal_case_file(found: tuple[Path, dict]) -> None:
    out, doc = found
    for c in doc["clusters"]:
        [case] = normalise(read_file(out / c["case_file"]))
        assert case.tags == ("discovered",) and set(case.expect) == {"planted"}
        assert c["text"] in case.expect["planted"].reason
        assert configs.features(case) == set(c["key"])
