"""PaddlePaddle adapter (paddle.nn.functional pooling) against the float64 reference, and its
conversions: exclusive vs count_include_pad, per-side padding, return_mask, the repro script."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from harness import compare, reference
from harness.inputs import make_input, make_upstream
from tests.helpers import ROOT, case_from, idle_steps, run_repro, seed_cases

pytest.importorskip("paddle")
paddle_adapter = pytest.importorskip("harness.adapters.paddle_pool")


def run(case, grad: bool = False):
    x = make_input(case.input)
    up = make_upstream(case, reference.output_shape(case)) if grad else None
    plan = paddle_adapter.plan(case)
    return plan, paddle_adapter.execute(case, plan, x, "cpu", up), reference.compute(case, x, up)


def verdict(case, grad: bool = False) -> str:
    plan, outcome, ref = run(case, grad)
    return compare.compare(case, ref, outcome)["verdict"]


# Floor mode, symmetric padding, counted or not: where Paddle's semantics are PyTorch's.
GRID = [g for g in itertools.product(["max_pool", "avg_pool"], [1, 2, 3], [2, 3], [1, 2], [0, 1], [True, False])
        if g[0] == "avg_pool" or g[-1]]  # count_include_pad is an average parameter


@pytest.mark.parametrize("op,n,k,s,pad,cip", GRID)
def test_floor_mode_grid_matches_reference_with_gradients(tmp_path, op, n, k, s, pad, cip) -> None:
    shape = [2, 3, *[7, 6, 5][:n]]
    params = {"kernel_size": k, "stride": s, "padding": pad}
    if op == "avg_pool":
        params["count_include_pad"] = cip
    case = case_from(op, shape, params, tmp_path, grad=True,
                     input={"shape": shape, "dtype": "float32", "generator": {"kind": "randn", "seed": 3}})
    assert verdict(case, grad=True) == "pass"


def test_float64_average_gradient_has_float32_precision(tmp_path) -> None:
    """Paddle's float64 avg_pool backward divides by the window size in float32 precision: each tap
    of a 3-tap window gets float32(1/3) = 0.3333333432674408, not 1/3 (3e-8 relative), while the
    forward output is float64-exact."""
    case = case_from("avg_pool", [1, 2, 9], {"kernel_size": 3}, tmp_path, grad=True, upstream="ones",
                     input={"shape": [1, 2, 9], "dtype": "float64", "generator": {"kind": "randn", "seed": 3}})
    _, outcome, ref = run(case, grad=True)
    np.testing.assert_allclose(outcome.output, ref.output, rtol=1e-14)
    assert outcome.grad.dtype == np.float64
    np.testing.assert_array_equal(ref.grad, np.full((1, 2, 9), 1 / 3))  # stride 3: one window per tap
    np.testing.assert_array_equal(outcome.grad, np.full((1, 2, 9), float(np.float32(1 / 3))))


def test_count_include_pad_becomes_exclusive(tmp_path) -> None:
    for cip in (True, False):
        case = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 3, "stride": 1, "padding": 1,
                                                    "count_include_pad": cip}, tmp_path)
        plan = paddle_adapter.plan(case)
        assert f"exclusive={not cip}" in plan.call
        assert any(f"-> exclusive={not cip}" in c for c in plan.conversions())
        # Hand-worked: a corner window of ones holds 4 real taps of 9 -> 4/9 counted, 1 not.
        ones = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 3, "stride": 1, "padding": 1,
                                                    "count_include_pad": cip}, tmp_path,
                         input={"shape": [1, 1, 4, 4], "generator": {"kind": "constant", "value": 1}})
        out = run(ones)[1].output
        assert out[0, 0, 0, 0] == pytest.approx(4 / 9 if cip else 1.0)


def test_return_mask_indices_and_unpool(tmp_path) -> None:
    case = case_from("max_pool", [2, 2, 7, 6], {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True},
                     tmp_path)
    plan, outcome, ref = run(case)
    assert "return_mask=True" in plan.call
    np.testing.assert_array_equal(outcome.indices, ref.indices)
    assert outcome.indices.dtype == np.int64
    for shape in ([1, 2, 8], [1, 2, 6, 6], [1, 1, 4, 4, 4]):
        unpool = case_from("max_unpool", shape, {"kernel_size": 2}, tmp_path)
        assert verdict(unpool) == "pass", shape


def test_asymmetric_padding_is_passed_per_side(tmp_path) -> None:
    case = case_from("max_pool", [1, 2, 6, 7], {"kernel_size": 3, "stride": 2, "padding": [[0, 1], [2, 0]]}, tmp_path)
    plan = paddle_adapter.plan(case)
    assert "padding=[[0, 0], [0, 0], [0, 1], [2, 0]]" in plan.call and plan.mode == "native"
    assert verdict(case) == "pass"


def test_ceil_mode_keeps_the_window_pytorch_drops(tmp_path) -> None:
    # L=5, k=2, s=2, pad 1: ceil((5+2-2)/2)+1 = 4, and PyTorch drops the 4th (it starts at 6 >= 5+1).
    case = case_from("max_pool", [1, 1, 5, 5], {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
                     tmp_path)
    _, outcome, ref = run(case)
    assert ref.output.shape == (1, 1, 3, 3) and outcome.output.shape == (1, 1, 4, 4)


def test_divisor_override_1d_is_emulated_through_2d(tmp_path) -> None:
    case = case_from("avg_pool", [1, 2, 9], {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 2},
                     tmp_path)
    plan = paddle_adapter.plan(case)
    assert plan.mode == "emulated" and "avg_pool2d(x.unsqueeze(2)" in plan.call
    assert verdict(case) == "pass"


@pytest.mark.parametrize("op,params,reason", [
    ("max_pool", {"kernel_size": 2, "dilation": 2}, "no dilation"),
    ("lp_pool", {"kernel_size": 2, "norm_type": 2}, "lp_pool3d"),
])
def test_unsupported(tmp_path, op, params, reason) -> None:
    shape = [1, 1, 6, 6, 6] if op == "lp_pool" else [1, 1, 6, 6]
    plan = paddle_adapter.plan(case_from(op, shape, params, tmp_path))
    assert plan.mode == "unsupported" and reason in plan.reason


def test_integer_input_has_no_kernel(tmp_path) -> None:
    case = case_from("max_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path,
                     input={"shape": [1, 1, 4, 4], "dtype": "int32", "generator": {"kind": "randint"}})
    with pytest.raises(RuntimeError, match="not registered"):
        run(case)


@pytest.mark.parametrize("case_id", ["seed-A1-max-k3-ceil", "seed-D3-avg-ceil-cip", "seed-B1-avg-k2-s1", "seed-D5-avg-divisor-override"])
def test_repro_script_reproduces_bit_for_bit(tmp_path, case_id) -> None:
    case = seed_cases()[case_id]
    plan, outcome, _ = run(case)
    got = run_repro(case, paddle_adapter.repro(case, plan), tmp_path)
    np.testing.assert_array_equal(got["out"], outcome.output)
    assert got["out"].dtype == outcome.output.dtype


def test_repro_with_indices(tmp_path) -> None:
    case = case_from("max_pool", [1, 2, 5, 5], {"kernel_size": 2, "return_indices": True}, tmp_path)
    plan, outcome, _ = run(case)
    got = run_repro(case, paddle_adapter.repro(case, plan), tmp_path)
    np.testing.assert_array_equal(got["indices"], outcome.indices)


def test_plan_imports_no_framework_and_probe_needs_paddle() -> None:
    code = ("import sys; from harness.adapters import paddle_pool; from tests.helpers import seed_cases; "
            "[paddle_pool.plan(c) for c in seed_cases().values()]; assert 'paddle' not in sys.modules; "
            "sys.modules['paddle'] = None\n"
            "try:\n    paddle_pool.probe()\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('no ImportError')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))


@pytest.mark.parametrize("op,shape,params", [
    ("max_unpool", [1, 2, 8], {"kernel_size": 2}),  # 1-D: output_size as the full shape
    ("avg_pool", [1, 2, 9], {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 2}),  # 1-D through 2-D
    ("max_pool", [1, 2, 5, 5], {"kernel_size": 2, "return_indices": True}),  # return_mask
])
def test_every_step_is_marked_and_does_something(tmp_path, op, shape, params) -> None:
    case = case_from(op, shape, params, tmp_path)
    plan, outcome, ref = run(case)
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"
    assert idle_steps(case, plan, paddle_adapter.repro(case, plan), tmp_path) == []


def test_unpool_output_size_is_the_full_shape_only_in_1d(tmp_path) -> None:
    """max_unpool1d misreads a spatial-only output_size (it inserts the height-1 dim into it);
    max_unpool2d / 3d take either form, so there is nothing to convert."""
    for shape, step in (([1, 2, 8], True), ([1, 2, 6, 6], False), ([1, 1, 4, 4, 4], False)):
        plan = paddle_adapter.plan(case_from("max_unpool", shape, {"kernel_size": 2}, tmp_path))
        assert any("given as the full shape" in c for c in plan.conversions()) == step, shape
