"""`pool-parity import-onnx`: the float64 reference agrees with ONNX's expected outputs on every
pooling node test it expresses, at ONNX's own tolerance; the others are listed with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from harness import reference
from harness.cli import main
from harness.inputs import make_input
from harness.load import read_file
from harness.normalise import normalise
from harness.onnx_import import expected_indices, to_case
from tests.helpers import ROOT

node_tests = pytest.importorskip("harness.adapters.onnx_node_tests")
pytest.importorskip("onnx")

TESTS = node_tests.read()


def _case(tmp_path: Path, body: dict):
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump({"cases": [body]}, sort_keys=False))
    return normalise(read_file(path))[0]


def test_the_onnx_package_has_pooling_node_tests() -> None:
    ops = {t.op_type for t in TESTS}
    assert {"MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool"} <= ops, ops
    assert len(TESTS) >= 40


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_reference_agrees_with_onnx_expected_outputs(tmp_path: Path, test) -> None:
    body, why = to_case(test, embed=float("inf"))  # ONNX's own input, whatever its size
    if body is None:
        assert why, f"{test.name}: not expressed, and no reason given"
        pytest.skip(f"not expressed: {why}")
    case = _case(tmp_path, body)
    x = make_input(case.input)
    expected_x = np.abs(test.inputs[0]) if "input |x|" in why else test.inputs[0]
    np.testing.assert_array_equal(x, expected_x)  # the case holds ONNX's input exactly
    ref = reference.compute(case, x)
    np.testing.assert_allclose(ref.output, test.outputs[0].astype(np.float64), rtol=test.rtol, atol=test.atol,
                               err_msg=test.name)
    if case.params.return_indices:
        np.testing.assert_array_equal(ref.indices, expected_indices(test.outputs[1]))


def test_import_writes_a_valid_case_file_and_keeps_expectations(tmp_path: Path) -> None:
    out = tmp_path / "onnx_node_tests.yaml"
    assert main(["import-onnx", "--out", str(out)]) == 0
    text = out.read_text()
    cases = normalise(read_file(out))
    expressed = [t for t in TESTS if to_case(t)[0] is not None]
    assert len(cases) == len(expressed)
    for t in TESTS:
        if to_case(t)[0] is None:
            assert f"#   {t.name}: " in text  # each test left out is named, with its reason
    # A hand-written expectation survives regeneration.
    doc = yaml.safe_load(text)
    doc["cases"][0]["expect"] = {"jax": {"verdict": "numeric_mismatch", "reason": "kept", "link": "https://x"}}
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["import-onnx", "--out", str(out)]) == 0
    again = yaml.safe_load(out.read_text())
    assert again["cases"][0]["expect"]["jax"]["reason"] == "kept"


def test_import_refuses_a_missing_data_directory(tmp_path: Path, capsys) -> None:
    assert main(["import-onnx", "--out", str(tmp_path / "x.yaml"), "--data", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_the_shipped_file_is_current() -> None:
    """cases/onnx_node_tests.yaml is what import-onnx makes from the pinned onnx (expectations aside)."""
    shipped = yaml.safe_load((ROOT / "cases" / "onnx_node_tests.yaml").read_text())["cases"]
    made = [c for c in (to_case(t)[0] for t in TESTS) if c is not None]
    strip = [{k: v for k, v in c.items() if k != "expect"} for c in shipped]
    assert strip == made
