"""PyTorch adapter against the float64 reference over a generated parameter grid."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from harness import compare, reference
from harness.inputs import make_input, make_upstream
from tests.helpers import case_from, seed_cases

torch_adapter = pytest.importorskip("harness.adapters.pytorch")
pytest.importorskip("torch")


def run(case, grad: bool = False):
    x = make_input(case.input)
    up = make_upstream(case, reference.output_shape(case)) if grad else None
    plan = torch_adapter.plan(case)
    outcome = torch_adapter.execute(case, plan, x, "cpu", up)
    return plan, outcome, reference.compute(case, x, up)


SPATIAL = {1: [9], 2: [7, 6], 3: [5, 4, 6]}
PADDINGS = ["zero", "sym", "asym", "same", "big"]


def _padding(kind: str, n: int):
    return {"zero": 0, "sym": 1, "asym": [[0, 1]] * n, "same": "same", "big": [2] * n}[kind]


def grid() -> list[tuple]:
    combos = list(itertools.product(
        ["max_pool", "avg_pool", "lp_pool"], [1, 2, 3], [2, 3], [1, 2, 4], PADDINGS, [1, 2], [False, True],
        [True, False], [None, 3]))
    random.Random(0).shuffle(combos)
    keep = []
    for op, n, k, s, pad, d, ceil, cip, div in combos:
        if op != "avg_pool" and (not cip or div):
            continue  # count_include_pad / divisor_override belong to avg only
        if op == "lp_pool" and ceil:
            continue  # a known PyTorch divergence, tested on its own below
        eff = d * (k - 1) + 1
        if min(SPATIAL[n]) + (4 if pad == "big" else 2) < eff:
            continue
        keep.append((op, n, k, s, pad, d, ceil, cip, div))
    return keep[:160]


@pytest.mark.parametrize("op,n,k,s,pad,d,ceil,cip,div", grid())
def test_grid_matches_reference(tmp_path, op, n, k, s, pad, d, ceil, cip, div) -> None:
    params = {"kernel_size": k, "stride": s, "padding": _padding(pad, n), "dilation": d, "ceil_mode": ceil}
    if op == "avg_pool":
        params.update(count_include_pad=cip)
        if div:
            params["divisor_override"] = div
    if op == "lp_pool":
        params["norm_type"] = 2
    if op == "max_pool":
        params["return_indices"] = True
    shape = [2, 3, *SPATIAL[n]]
    try:
        case = case_from(op, shape, params, tmp_path, grad=True,
                         input={"shape": shape, "dtype": "float64", "generator": {"kind": "uniform", "low": 0.5, "high": 2, "seed": 5}})
    except Exception as exc:  # impossible combination for this grid point (window does not fit)
        pytest.skip(f"impossible parameters: {exc}")
    plan, outcome, ref = run(case, grad=True)
    result = compare.compare(case, ref, outcome)
    assert result["verdict"] == "pass", (plan.mode, plan.conversions(), result.get("output"), result.get("grad"))


def test_native_and_emulated_plans_record_their_conversions(tmp_path) -> None:
    native = case_from("max_pool", [1, 1, 6, 6], {"kernel_size": 3, "padding": 1}, tmp_path)
    assert torch_adapter.plan(native).mode == "native"
    assert torch_adapter.plan(native).conversions() == ["none"]
    asym = case_from("max_pool", [1, 1, 6, 6], {"kernel_size": 3, "padding": [[0, 1], [1, 0]], "return_indices": True}, tmp_path)
    plan = torch_adapter.plan(asym)
    assert plan.mode == "emulated"
    text = plan.conversions()
    # the after-pad is only as long as the windows read: H needs none, W's before-pad stays
    assert text[0].startswith("pad spatial dims [[0, 0], [1, 0]] with -inf")
    assert any("index remap" in t for t in text)
    dil = case_from("avg_pool", [1, 1, 7], {"kernel_size": 3, "dilation": 2}, tmp_path)
    plan = torch_adapter.plan(dil)
    assert plan.mode == "emulated" and "dilation" in plan.reason
    assert any("conv1d" in t for t in plan.conversions())
    glob = case_from("global_avg_pool", [1, 1, 4, 4], {"keepdims": True}, tmp_path)
    assert torch_adapter.plan(glob).mode == "emulated"


def test_emulated_max_indices_point_into_the_unpadded_plane(tmp_path) -> None:
    case = case_from("max_pool", [1, 2, 5, 5], {"kernel_size": 3, "stride": 2, "padding": [[2, 0], [0, 2]],
                                                "return_indices": True}, tmp_path)
    _, outcome, ref = run(case)
    np.testing.assert_array_equal(outcome.indices, ref.indices)


def test_all_seed_cases_pass() -> None:
    for case in seed_cases().values():
        plan, outcome, ref = run(case, grad=case.grad)
        assert compare.compare(case, ref, outcome)["verdict"] == "pass", case.id


def test_lp_pool_ceil_mode_scales_partial_windows(tmp_path) -> None:
    """PyTorch computes lp_pool as avg_pool(x**p) * kernel_numel, so a ceil-mode window that
    holds only `m` of its `k` taps gets sum * k / m instead of sum (hand-worked below)."""
    case = case_from("lp_pool", [1, 1, 5], {"kernel_size": 2, "norm_type": 1, "ceil_mode": True}, tmp_path,
                     input={"shape": [1, 1, 5], "values": [[[1, 2, 3, 4, 5]]]})
    _, outcome, ref = run(case)
    np.testing.assert_allclose(ref.output[0, 0], [3, 7, 5])
    np.testing.assert_allclose(outcome.output[0, 0], [3, 7, 10])  # last window: 5 * 2 / 1


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "int32", "int64"])
def test_dtypes_round_trip_bit_exactly_for_max(tmp_path, dtype: str) -> None:
    case = case_from("max_pool", [2, 2, 6, 6], {"kernel_size": 2}, tmp_path,
                     input={"shape": [2, 2, 6, 6], "dtype": dtype, "generator": {"kind": "randint", "low": -50, "high": 50}})
    _, outcome, ref = run(case)
    assert outcome.dtype == dtype
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"


def test_avg_on_integers_int32_raises_int64_truncates(tmp_path) -> None:
    """PyTorch 2.13 CPU: avg_pool2d has no int32 kernel, and its int64 kernel truncates."""
    i32 = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path,
                    input={"shape": [1, 1, 4, 4], "dtype": "int32", "generator": {"kind": "arange"}})
    with pytest.raises(RuntimeError, match="not implemented for 'Int'"):
        run(i32)
    i64 = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path,
                    input={"shape": [1, 1, 4, 4], "dtype": "int64", "generator": {"kind": "arange"}})
    _, outcome, ref = run(i64)
    np.testing.assert_allclose(ref.output[0, 0], [[2.5, 4.5], [10.5, 12.5]])  # (0+1+4+5)/4 ...
    assert outcome.dtype == "int64" and outcome.output[0, 0].tolist() == [[2, 4], [10, 12]]


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA GPU visible to torch")
def test_gpu_matches_reference(tmp_path) -> None:
    case = case_from("avg_pool", [2, 3, 8, 8], {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, tmp_path)
    x = make_input(case.input)
    outcome = torch_adapter.execute(case, torch_adapter.plan(case), x, "gpu")
    assert compare.compare(case, reference.compute(case, x), outcome)["verdict"] == "pass"


@pytest.mark.parametrize("params", [
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},                 # native
    {"kernel_size": 3, "stride": 2, "padding": [[0, 2], [2, 1]], "ceil_mode": True},  # emulated pad
])
@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
def test_repro_snippet_reproduces_the_result(tmp_path, op, params) -> None:
    from harness.repro import input_code

    case = case_from(op, [1, 2, 7, 6], params, tmp_path)
    plan, outcome, ref = run(case)
    scope: dict = {}
    exec(input_code(case) + torch_adapter.repro(case, plan).replace("print(out)", ""), scope)  # noqa: S102
    assert scope["out"].dtype == outcome.output.dtype
    np.testing.assert_array_equal(scope["out"], outcome.output)  # bit for bit what the run recorded
    np.testing.assert_allclose(scope["out"], ref.output, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n,params", [(1, {"kernel_size": 2}), (2, {"kernel_size": 3, "stride": 2, "padding": 1}),
                                      (3, {"kernel_size": 2, "output_size": [5, 5, 5]})])
def test_max_unpool_round_trip(tmp_path, n, params) -> None:
    shape = [2, 2, *([5] * n)]
    case = case_from("max_unpool", shape, params, tmp_path)
    plan, outcome, ref = run(case)
    assert plan.mode == "native"
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"
