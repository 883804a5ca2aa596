"""ONNX Runtime adapter: what is particular to it (the protocol is the conformance kit's): the
opset, the type table against the real CPU provider, a parameter grid against the reference, the
index remap, and the NaN-by-position behaviour the cases declare."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness import compare, reference
from harness.inputs import make_input
from tests.helpers import case_from

ort_adapter = pytest.importorskip("harness.adapters.onnxruntime")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

ort.set_default_logger_severity(4)


def _session(nodes, dtype: str, opset: int):
    elem = getattr(TensorProto, ort_adapter.ELEM[dtype])
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", elem, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("y", elem, [None] * 4)])
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_default_opset_is_the_newest_onnxruntime_implements() -> None:
    node = [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2])]
    _session(node, "float32", ort_adapter.DEFAULT_OPSET)
    with pytest.raises(Exception, match="(?i)opset"):
        _session(node, "float32", ort_adapter.DEFAULT_OPSET + 1)


OPS = ["MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool"]


@pytest.mark.parametrize("opset", [ort_adapter.DEFAULT_OPSET, 18])
@pytest.mark.parametrize("dtype", list(ort_adapter.ELEM))
@pytest.mark.parametrize("op", OPS)
def test_type_table_matches_the_cpu_provider(op: str, dtype: str, opset: int) -> None:
    """type_gap says '' exactly when the checker and ORT's CPU provider accept the model."""
    attrs = {} if op.startswith("Global") else {"kernel_shape": [2, 2]}
    try:
        _session([helper.make_node(op, ["x"], ["y"], **attrs)], dtype, opset)
        runs = True
    except Exception:  # noqa: BLE001 - checker's or ORT's refusal
        runs = False
    assert runs == (ort_adapter.type_gap(op, dtype, opset) == ""), ort_adapter.type_gap(op, dtype, opset)


def _run(case, backend=None):
    x = make_input(case.input)
    plan = ort_adapter.plan(case, backend)
    assert plan.supported, plan.reason
    outcome = ort_adapter.execute(case, plan, x, "cpu")
    return plan, outcome, compare.compare(case, reference.compute(case, x), outcome)


SPATIAL = {1: [9], 2: [7, 6], 3: [5, 4, 6]}


def grid() -> list[tuple]:
    combos = itertools.product(["max_pool", "avg_pool", "lp_pool"], [1, 2, 3], [2, 3], [1, 2], [0, 1, "asym"], [1, 2],
                               [False, True], [True, False])
    keep = []
    for op, n, k, s, pad, d, ceil, cip in combos:
        if (op != "avg_pool" and not cip) or (op == "lp_pool" and pad) or (pad == 1 and k < 2):
            continue  # cip belongs to avg; lp pads are |x|-sensitive only through zeros (fine) but keep it short
        if min(SPATIAL[n]) + {0: 0, 1: 2, "asym": 1}[pad] < d * (k - 1) + 1:
            continue
        keep.append((op, n, k, s, pad, d, ceil, cip))
    return keep[::3][:60]


@pytest.mark.parametrize("op,n,k,s,pad,d,ceil,cip", grid())
def test_grid_matches_reference(tmp_path, op, n, k, s, pad, d, ceil, cip) -> None:
    padding = [[0, 1]] * n if pad == "asym" else pad
    params = {"kernel_size": k, "stride": s, "padding": padding, "dilation": d, "ceil_mode": ceil}
    if op == "avg_pool":
        params["count_include_pad"] = cip
    if op == "lp_pool":
        params["norm_type"] = 2
    shape = [2, 3, *SPATIAL[n]]
    case = case_from(op, shape, params, tmp_path)
    plan, outcome, result = _run(case)
    assert plan.mode == "native"
    assert result["verdict"] == "pass", (plan.call, result["reason"])


def test_indices_are_remapped_per_plane_for_several_channels(tmp_path) -> None:
    case = case_from("max_pool", [2, 3, 6, 6], {"kernel_size": 2, "return_indices": True}, tmp_path)
    plan, outcome, result = _run(case)
    assert [str(s) for s in plan.steps][0].startswith("index remap")
    assert outcome.indices.max() < 36  # per plane, not over N*C*H*W
    assert result["verdict"] == "pass", result["reason"]


def test_opset18_has_no_dilated_average(tmp_path) -> None:
    case = case_from("avg_pool", [1, 1, 7, 7], {"kernel_size": 2, "dilation": 2}, tmp_path)
    assert not ort_adapter.plan(case, "opset18").supported
    assert ort_adapter.plan(case).supported


@pytest.mark.parametrize("at,nan", [((0, 0), False), ((0, 1), False), ((1, 0), False), ((1, 1), True)])
def test_maxpool_keeps_nan_only_as_the_last_tap(tmp_path, at, nan) -> None:
    """Hand-worked: arange(16) as 4x4, k=2, s=2; a NaN written into the first window [[0, 1], [4, 5]]
    survives only as its last tap, else the window gives 5 (cases/onnx.yaml declares it)."""
    values = np.arange(16.0).reshape(1, 1, 4, 4).tolist()
    values[0][0][at[0]][at[1]] = "nan"
    case = case_from("max_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path,
                     input={"shape": [1, 1, 4, 4], "values": values})
    _, outcome, _ = _run(case)
    got = float(outcome.output[0, 0, 0, 0])
    assert np.isnan(got) if nan else got == 5.0


def test_gpu_is_skipped_without_the_cuda_provider(tmp_path) -> None:
    """onnxruntime (CPU build) offers no CUDAExecutionProvider: a gpu result is skipped, never passed."""
    import json

    from harness.cli import main

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    path = tmp_path / "c.yaml"
    path.write_text("cases:\n  - {id: g, op: max_pool, input: {shape: [1, 1, 4, 4], generator: {kind: randn}},"
                    " params: {kernel_size: 2}}\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--frameworks", "onnxruntime", "--devices", "cpu,gpu", "--out", str(out), "-q"]) == 0
    verdicts = {r["device"]: r["verdict"] for r in json.loads((out / "results.json").read_text())["results"]}
    assert verdicts == {"cpu": "pass", "gpu": "skipped"}
