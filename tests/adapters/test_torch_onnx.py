"""torch-onnx adapter: what is particular to it: the exporter's opset, conversions that say what
the exporter produced, export failures as errors with the exporter's message, one export per
signature."""

from __future__ import annotations

import numpy as np
import pytest

from harness import compare, reference
from harness.adapters import script
from harness.inputs import make_input
from tests.helpers import case_from

adapter = pytest.importorskip("harness.adapters.torch_onnx")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def _run(case):
    x = make_input(case.input)
    plan = adapter.plan(case)
    assert plan.supported, plan.reason
    outcome = adapter.execute(case, plan, x, "cpu")
    return plan, outcome, compare.compare(case, reference.compute(case, x), outcome)


def test_lp_pool_conversions_list_the_exported_graph(tmp_path) -> None:
    case = case_from("lp_pool", [1, 2, 6, 6], {"kernel_size": 2, "norm_type": 2}, tmp_path,
                     input={"shape": [1, 2, 6, 6], "generator": {"kind": "uniform", "low": 0.5, "high": 2.0}})
    plan, outcome, result = _run(case)
    assert result["verdict"] == "pass", result["reason"]
    (text,) = outcome.executed
    ops = text.removeprefix("exported as ").split(" -> ")
    assert ops[0] == "Pow" and "AveragePool" in ops and ops[-1] == "Pow", text
    run = script.runner(adapter.source(case, plan).setup)
    model_opset = run.__globals__["model"].opset_import[0].version
    assert model_opset == adapter.EXPORT_OPSET


def test_divisor_override_is_dropped_by_the_exporter(tmp_path) -> None:
    """Seed D5 by hand: 4x4 arange, k=3, s=2, pad=1, divisor 2: the top-left window sums
    0+1+4+5 = 10, so PyTorch gives 5; the exported AveragePool divides by 9 (count_include_pad)."""
    case = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 2},
                     tmp_path, input={"shape": [1, 1, 4, 4], "generator": {"kind": "arange"}})
    _, outcome, result = _run(case)
    assert float(outcome.output[0, 0, 0, 0]) == pytest.approx(10 / 9)
    assert result["verdict"] == "numeric_mismatch"


def test_an_export_failure_is_an_error_with_the_exporters_message(tmp_path) -> None:
    case = case_from("adaptive_max_pool", [1, 1, 7, 5], {"output_size": [3, 2]}, tmp_path)
    plan = adapter.plan(case)
    x = make_input(case.input)
    with pytest.raises(Exception, match="(?i)convert|export") as first:
        adapter.execute(case, plan, x, "cpu")
    with pytest.raises(type(first.value)) as again:  # the failure is cached, not re-exported
        adapter.execute(case, plan, x, "cpu")
    assert again.value is first.value


def test_one_export_per_signature(tmp_path) -> None:
    case = case_from("max_pool", [1, 2, 6, 6], {"kernel_size": 2, "return_indices": True}, tmp_path)
    plan, _, result = _run(case)
    assert result["verdict"] == "pass", result["reason"]
    run = script.runner(adapter.source(case, plan).setup)
    again = case_from("max_pool", [1, 2, 6, 6], {"kernel_size": 2, "return_indices": True}, tmp_path,
                      input={"shape": [1, 2, 6, 6], "generator": {"kind": "randn", "seed": 99}})
    assert script.runner(adapter.source(again, adapter.plan(again)).setup) is run
    out, idx = run(make_input(again.input))
    assert isinstance(out, np.ndarray) and idx.shape == out.shape
