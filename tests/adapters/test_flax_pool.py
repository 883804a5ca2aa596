"""Flax adapter (flax.linen pooling) against the float64 reference: strides always passed, ceil
mode by after-pads, counted padding by zeros in front, x64 only for 64-bit inputs, repro scripts."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys

import numpy as np
import pytest

from harness import compare, reference
from harness.inputs import make_input, make_upstream
from harness.plan import Pad
from tests.helpers import ROOT, case_from, idle_steps, run_repro, seed_cases

pytest.importorskip("flax")
flax_adapter = pytest.importorskip("harness.adapters.flax_pool")


def run(case, grad: bool = False):
    x = make_input(case.input)
    up = make_upstream(case, reference.output_shape(case)) if grad else None
    plan = flax_adapter.plan(case)
    return plan, flax_adapter.execute(case, plan, x, "cpu", up), reference.compute(case, x, up)


def verdict(case, grad: bool = False) -> str:
    _, outcome, ref = run(case, grad)
    return compare.compare(case, ref, outcome)["verdict"]


GRID = [g for g in itertools.product(["max_pool", "avg_pool", "lp_pool"], [1, 2, 3], [1, 2], [0, [[0, 1]], 1],
                                     [False, True], [True, False]) if g[0] == "avg_pool" or g[-1]]
GRID = random.Random(2).sample(GRID, 40)  # of 144: each jit compile costs a test about half a second


@pytest.mark.parametrize("op,n,s,pad,ceil,cip", GRID)
def test_grid_matches_reference_with_gradients(tmp_path, op, n, s, pad, ceil, cip) -> None:
    shape = [2, 2, *[7, 6, 5][:n]]
    padding = [pad[0]] * n if isinstance(pad, list) else pad
    params = {"kernel_size": 3, "stride": s, "padding": padding, "ceil_mode": ceil}
    if op == "avg_pool":
        params["count_include_pad"] = cip
    if op == "lp_pool":
        params["norm_type"] = 2
    case = case_from(op, shape, params, tmp_path, grad=True,
                     input={"shape": shape, "dtype": "float32", "generator": {"kind": "uniform", "low": 0.5, "high": 2}})
    assert verdict(case, grad=True) == "pass"


def test_strides_are_always_passed(tmp_path) -> None:
    """Flax's default stride is 1 (PyTorch's is the kernel): the call names the stride."""
    case = case_from("max_pool", [1, 1, 6, 6], {"kernel_size": 2}, tmp_path)
    plan = flax_adapter.plan(case)
    assert "strides=(2, 2)" in plan.call and any("default stride is 1" in c for c in plan.conversions())
    assert run(case)[1].output.shape == (1, 1, 3, 3)


def test_ceil_mode_with_counted_padding_pads_in_front(tmp_path) -> None:
    # Seed D3: 4x4, k3, s2, pad 1, ceil: the bottom-right window has 4 taps in the padded extent.
    case = seed_cases()["seed-D3-avg-ceil-cip"]
    plan, outcome, ref = run(case)
    assert plan.mode == "emulated" and "jnp.pad(x" in plan.call and "count_include_pad=False" in plan.call
    np.testing.assert_allclose(outcome.output, ref.output, rtol=1e-6)


def test_x64_only_for_64_bit_inputs(tmp_path) -> None:
    for dtype in ("float32", "float64"):
        case = case_from("avg_pool", [1, 1, 6, 6], {"kernel_size": 3, "padding": 1, "count_include_pad": False},
                         tmp_path, input={"shape": [1, 1, 6, 6], "dtype": dtype, "generator": {"kind": "randn"}})
        plan, outcome, _ = run(case)
        assert outcome.output.dtype == np.dtype(dtype)
        assert any(f"jax_enable_x64={dtype == 'float64'}" in c for c in plan.conversions())


def test_half_average_without_counted_padding_comes_back_float32(tmp_path) -> None:
    """flax.linen.avg_pool(count_include_pad=False) divides by a pooled jnp.ones of the default
    float dtype, so a float16 input gives float32 (cases/flax.yaml declares it)."""
    case = case_from("avg_pool", [1, 1, 6, 6], {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
                     tmp_path, input={"shape": [1, 1, 6, 6], "dtype": "float16", "generator": {"kind": "randn"}})
    assert run(case)[1].output.dtype == np.float32
    assert verdict(case) == "dtype_mismatch"


@pytest.mark.parametrize("op,params", [("global_max_pool", {"keepdims": False}), ("global_avg_pool", {"keepdims": True}),
                                       ("adaptive_max_pool", {"output_size": [3, 2]}),
                                       ("adaptive_avg_pool", {"output_size": [2, 4]})])
def test_global_and_even_adaptive_are_one_window(tmp_path, op, params) -> None:
    case = case_from(op, [2, 3, 6, 8], params, tmp_path, grad=True)
    plan = flax_adapter.plan(case)
    assert plan.mode == "emulated" and plan.call.startswith("nn.")
    assert verdict(case, grad=True) == "pass"


@pytest.mark.parametrize("op,params,reason", [
    ("max_pool", {"kernel_size": 2, "dilation": 2}, "no dilation"),
    ("max_pool", {"kernel_size": 2, "return_indices": True}, "no argmax"),
    ("adaptive_avg_pool", {"output_size": [4, 4]}, "uneven"),
])
def test_unsupported(tmp_path, op, params, reason) -> None:
    plan = flax_adapter.plan(case_from(op, [1, 1, 7, 7], params, tmp_path))
    assert plan.mode == "unsupported" and reason in plan.reason


@pytest.mark.parametrize("case_id", ["seed-A2-max-k3-floor", "seed-D4-avg-ceil-nocip", "seed-D5-avg-divisor-override",
                                     "seed-C3-global-avg-nhwc"])
def test_repro_script_reproduces_bit_for_bit(tmp_path, case_id) -> None:
    case = seed_cases()[case_id]
    plan, outcome, _ = run(case)
    got = run_repro(case, flax_adapter.repro(case, plan), tmp_path)
    np.testing.assert_array_equal(got["out"], outcome.output)
    assert got["out"].dtype == outcome.output.dtype


def test_plan_imports_no_framework_and_probe_needs_flax() -> None:
    code = ("import sys; from harness.adapters import flax_pool; from tests.helpers import seed_cases; "
            "[flax_pool.plan(c) for c in seed_cases().values()]; assert not {'flax', 'jax'} & set(sys.modules); "
            "sys.modules['flax'] = None\n"
            "try:\n    flax_pool.probe()\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('no ImportError')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))


@pytest.mark.parametrize("case_id,op,params", [
    ("seed-D3-avg-ceil-cip", None, None),  # ceil after-pads, the declared pads in front as zeros
    ("max-ceil", "max_pool", {"kernel_size": 2, "ceil_mode": True}),  # ceil after-pads on a max
    ("ceil-cip-no-pad", "avg_pool", {"kernel_size": 2, "ceil_mode": True}),  # only the overhang: no pad of zeros
    ("same-stride-1", "max_pool", {"kernel_size": 3, "stride": 1, "padding": "same"}),  # no stride step
])
def test_every_step_is_marked_and_does_something(tmp_path, case_id, op, params) -> None:
    case = seed_cases()[case_id] if op is None else case_from(op, [1, 2, 5, 5], params, tmp_path)
    plan, outcome, ref = run(case)
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"
    assert not any(isinstance(s, Pad) and not any(b or a for b, a in s.pads) for s in plan.steps)  # no pad of zeros
    if case_id == "ceil-cip-no-pad":
        assert any("count_include_pad=False" in c for c in plan.conversions()) and "jnp.pad" not in plan.call
    if case_id == "same-stride-1":
        assert not any("strides=" in c for c in plan.conversions())
    assert idle_steps(case, plan, flax_adapter.repro(case, plan), tmp_path) == []
