"""JAX (lax.reduce_window) adapter against the float64 reference over a generated parameter grid."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from harness import compare, reference
from harness.inputs import make_input, make_upstream
from tests.helpers import case_from, seed_cases

pytest.importorskip("jax")
jax_adapter = pytest.importorskip("harness.adapters.jaxlax")


def run(case, grad: bool = False):
    x = make_input(case.input)
    up = make_upstream(case, reference.output_shape(case)) if grad else None
    plan = jax_adapter.plan(case)
    outcome = jax_adapter.execute(case, plan, x, "cpu", up)
    return plan, outcome, reference.compute(case, x, up)


def check(case, grad: bool = False):
    plan, outcome, ref = run(case, grad)
    result = compare.compare(case, ref, outcome)
    assert result["verdict"] == "pass", (plan.mode, plan.conversions(), result.get("reason"))
    return plan, outcome, ref


SPATIAL = {1: [9], 2: [7, 6], 3: [5, 4, 6]}
KERNELS = {"k2": 2, "k3": 3, "rect": None}  # rect: a different size per dim
PADDINGS = ["zero", "sym", "asym", "same", "big"]


def _kernel(kind: str, n: int):
    return KERNELS[kind] if KERNELS[kind] else [2, 3, 1][:n] if n > 1 else [4]


def _padding(kind: str, n: int):
    return {"zero": 0, "sym": 1, "asym": [[0, 1]] * n, "same": "same", "big": [2] * n}[kind]


def _input(shape: list[int], dtype: str, op: str) -> dict:
    if dtype == "int32":
        gen = {"kind": "randint", "low": -50, "high": 50, "seed": 3}
    elif dtype == "float16" or op == "lp_pool":
        gen = {"kind": "uniform", "low": 0.5, "high": 2, "seed": 3}  # no cancellation in 16-bit sums
    else:
        gen = {"kind": "randn", "seed": 3}
    return {"shape": shape, "dtype": dtype, "generator": gen}


def grid() -> list[tuple]:
    combos = list(itertools.product(
        ["max_pool", "avg_pool", "lp_pool"], [1, 2, 3], list(KERNELS), [1, 2, 4], PADDINGS, [1, 2],
        [False, True], [True, False], [None, 3], ["float32", "float64", "float16", "int32"]))
    random.Random(1).shuffle(combos)
    keep = []
    for op, n, k, s, pad, d, ceil, cip, div, dtype in combos:
        if op != "avg_pool" and (not cip or div):
            continue  # count_include_pad / divisor_override belong to avg only
        if dtype == "int32" and op != "max_pool":
            continue
        kernel = _kernel(k, n)
        extra = {"zero": 0, "sym": 2, "asym": 1, "same": 99, "big": 4}[pad]
        if any(d * ((kernel[i] if isinstance(kernel, list) else kernel) - 1) + 1 > L + extra
               for i, L in enumerate(SPATIAL[n])):
            continue  # the window does not fit: normalise rejects the case
        keep.append((op, n, k, s, pad, d, ceil, cip, div, dtype))
    return keep[:150]


@pytest.mark.parametrize("op,n,k,s,pad,d,ceil,cip,div,dtype", grid())
def test_grid_matches_reference(tmp_path, op, n, k, s, pad, d, ceil, cip, div, dtype) -> None:
    params = {"kernel_size": _kernel(k, n), "stride": s, "padding": _padding(pad, n), "dilation": d,
              "ceil_mode": ceil}
    if op == "avg_pool":
        params.update(count_include_pad=cip)
        if div:
            params["divisor_override"] = div
    if op == "lp_pool":
        params["norm_type"] = 2 if s != 2 else 1.5
    if op == "max_pool":
        params["return_indices"] = True
    shape = [2, 3, *SPATIAL[n]]
    grad = dtype in ("float32", "float64")
    try:
        case = case_from(op, shape, params, tmp_path, grad=grad, input=_input(shape, dtype, op))
    except Exception as exc:  # impossible combination for this grid point (window does not fit)
        pytest.skip(f"impossible parameters: {exc}")
    plan, _, _ = check(case, grad)
    assert plan.mode == ("emulated" if op == "max_pool" else "native")  # indices are the emulation


@pytest.mark.parametrize("op", ["global_max_pool", "global_avg_pool"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_global_pooling(tmp_path, op, n, keepdims, dtype) -> None:
    shape = [2, 3, *SPATIAL[n]]
    case = case_from(op, shape, {"keepdims": keepdims}, tmp_path, grad=dtype != "float16",
                     input=_input(shape, dtype, op))
    plan, outcome, _ = check(case, grad=dtype != "float16")
    assert plan.mode == "emulated" and outcome.output.ndim == (2 + n if keepdims else 2)


ADAPTIVE = [  # (input spatial, output size): dividing on every dim, and not
    ([8], [4]), ([9], [4]), ([6, 8], [3, 2]), ([7, 6], [3, 4]), ([5, 6], [5, 6]), ([4, 6, 6], [2, 3, 3]),
    ([5, 4, 7], [2, 3, 3]), ([5], [1]),
]


@pytest.mark.parametrize("op", ["adaptive_max_pool", "adaptive_avg_pool"])
@pytest.mark.parametrize("spatial,size", ADAPTIVE)
@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_adaptive_pooling(tmp_path, op, spatial, size, dtype) -> None:
    shape = [2, 3, *spatial]
    params = {"output_size": size, **({"return_indices": True} if op == "adaptive_max_pool" else {})}
    grad = dtype != "float16"
    case = case_from(op, shape, params, tmp_path, grad=grad, input=_input(shape, dtype, op))
    plan, _, _ = check(case, grad)
    dividing = all(L % o == 0 for L, o in zip(spatial, size))
    assert plan.mode == "emulated"
    assert any("adaptive bins" in t for t in plan.conversions()) != dividing


def test_plain_case_needs_no_conversion(tmp_path) -> None:
    case = case_from("max_pool", [1, 1, 6, 6], {"kernel_size": 3, "stride": 2, "padding": [[1, 1], [1, 2]]}, tmp_path)
    plan = jax_adapter.plan(case)
    assert plan.mode == "native" and plan.conversions() == ["none"]
    assert plan.call == ("jax.lax.reduce_window(x, -inf, jax.lax.max, (1, 1, 3, 3), (1, 1, 2, 2), "
                         "((0, 0), (0, 0), (1, 1), (1, 2)), window_dilation=(1, 1, 1, 1))")
    ceil = case_from("avg_pool", [1, 1, 5], {"kernel_size": 2, "ceil_mode": True}, tmp_path)
    assert jax_adapter.plan(ceil).conversions()[0].startswith("ceil_mode: after-pads [0] -> [1]")


def test_plan_does_not_import_jax() -> None:
    import subprocess
    import sys

    code = ("import sys; from harness.adapters import jaxlax; from tests.helpers import seed_cases; "
            "[jaxlax.plan(c) for c in seed_cases().values()]; assert 'jax' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("tests.helpers").helpers.ROOT))


def test_indices_with_padding_and_ties(tmp_path) -> None:
    # Ties inside windows (the first in row-major window order wins) and windows that reach into
    # the padding: indices are flat positions in the unpadded 4x4 plane.
    values = [[[[1, 3, 3, 0], [3, 2, 1, 1], [0, 0, 5, 5], [5, 0, 5, 2]]]]
    case = case_from("max_pool", [1, 1, 4, 4], {"kernel_size": 3, "stride": 2, "padding": [[1, 0], [2, 1]],
                                                "return_indices": True}, tmp_path,
                     input={"shape": [1, 1, 4, 4], "values": values})
    _, outcome, ref = check(case)
    np.testing.assert_array_equal(outcome.output[0, 0], [[3, 3, 3], [5, 5, 5]])
    np.testing.assert_array_equal(outcome.indices[0, 0], [[4, 1, 2], [12, 10, 10]])
    np.testing.assert_array_equal(outcome.indices, ref.indices)


def test_indices_nan_wins_and_all_inf_windows(tmp_path) -> None:
    inf, nan = float("inf"), float("nan")
    values = [[[1, nan, 3, -inf, -inf, 2]]]
    case = case_from("max_pool", [1, 1, 6], {"kernel_size": 2, "padding": 1, "return_indices": True}, tmp_path,
                     input={"shape": [1, 1, 6], "values": values})
    _, outcome, ref = check(case)
    np.testing.assert_array_equal(outcome.indices[0, 0], [0, 1, 3, 5])  # -inf window: its first real tap


def test_adaptive_indices_point_into_the_input(tmp_path) -> None:
    case = case_from("adaptive_max_pool", [1, 2, 5, 7], {"output_size": [2, 3], "return_indices": True}, tmp_path,
                     input={"shape": [1, 2, 5, 7], "dtype": "float32", "generator": {"kind": "randint", "low": 0, "high": 4}})
    _, outcome, ref = check(case)
    np.testing.assert_array_equal(outcome.indices, ref.indices)


@pytest.mark.parametrize("op,params", [
    ("max_pool", {"kernel_size": 3, "stride": 2, "padding": [[1, 2], [0, 1]], "dilation": [1, 2], "ceil_mode": True}),
    ("avg_pool", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": True}),
    ("avg_pool", {"kernel_size": [2, 3], "stride": 1, "padding": [[0, 1], [2, 0]], "count_include_pad": False}),
    ("lp_pool", {"kernel_size": 2, "stride": 1, "norm_type": 3, "padding": 1}),
])
def test_gradients_match_reference(tmp_path, op, params) -> None:
    case = case_from(op, [2, 2, 7, 8], params, tmp_path, grad=True,
                     input={"shape": [2, 2, 7, 8], "dtype": "float64", "generator": {"kind": "uniform", "low": 0.5, "high": 2}})
    _, outcome, ref = check(case, grad=True)
    assert outcome.grad.dtype == np.float64
    np.testing.assert_allclose(outcome.grad, ref.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int32", "int64"])
def test_max_keeps_the_dtype_bit_exactly(tmp_path, dtype: str) -> None:
    case = case_from("max_pool", [2, 2, 6, 6], {"kernel_size": 2, "padding": 1}, tmp_path,
                     input={"shape": [2, 2, 6, 6], "dtype": dtype, "generator": {"kind": "randint", "low": -50, "high": 50}})
    _, outcome, _ = check(case)
    assert outcome.dtype == dtype and outcome.output.dtype.name == dtype


def test_compiles_once_per_signature(tmp_path) -> None:
    def case_for(kernel: int):
        return case_from("avg_pool", [1, 2, 11, 13], {"kernel_size": kernel}, tmp_path,
                         input={"shape": [1, 2, 11, 13], "dtype": "float32", "generator": {"kind": "randn"}})

    first = case_for(3)
    start = jax_adapter.compile_count()
    check(first)
    assert jax_adapter.compile_count() == start + 1
    check(first)
    check(case_for(3))  # an equal case built again: same signature
    assert jax_adapter.compile_count() == start + 1
    check(case_for(2))
    assert jax_adapter.compile_count() == start + 2


def test_all_seed_cases_pass() -> None:
    for case in seed_cases().values():
        _, outcome, ref = run(case, grad=case.grad)
        assert compare.compare(case, ref, outcome)["verdict"] == "pass", case.id


def test_probe_records_x64() -> None:
    probe = jax_adapter.probe()
    assert probe.env["jax_enable_x64"] == "True" and "XLA_FLAGS" in probe.env
    assert set(probe.versions) == {"jax", "jaxlib"} and probe.devices["cpu"] == "cpu"


def test_int32_averages_come_back_as_float32(tmp_path) -> None:
    """JAX promotes int32 / int32 (and jnp.mean of int32) to float32, so 4/3 is 1.3333334, which the
    comparator's exact integer tolerance reports as a mismatch; int64 gives float64 and passes."""
    for dtype, expected in (("int32", "float32"), ("int64", "float64")):
        case = case_from("avg_pool", [1, 1, 3], {"kernel_size": 3}, tmp_path,
                         input={"shape": [1, 1, 3], "dtype": dtype, "values": [[[1, 1, 2]]]})
        _, outcome, ref = run(case)
        assert outcome.dtype == expected
        np.testing.assert_array_equal(outcome.output, np.array([[[4 / 3]]], dtype=expected))
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"


def test_global_max_gradient_splits_ties(tmp_path) -> None:
    """jnp.max's VJP shares the upstream gradient among tied maxima; the reference (and max_pool's
    reduce_window, which picks the first tap) gives it all to the first."""
    case = case_from("global_max_pool", [1, 1, 2], {}, tmp_path, grad=True, upstream="ones",
                     input={"shape": [1, 1, 2], "values": [[[1, 1]]]})
    _, outcome, ref = run(case, grad=True)
    np.testing.assert_array_equal(ref.grad, [[[1, 0]]])
    np.testing.assert_array_equal(outcome.grad, [[[0.5, 0.5]]])
    pooled = case_from("max_pool", [1, 1, 2], {"kernel_size": 2}, tmp_path, grad=True, upstream="ones",
                       input={"shape": [1, 1, 2], "values": [[[1, 1]]]})
    np.testing.assert_array_equal(run(pooled, grad=True)[1].grad, [[[1, 0]]])


def test_dilated_max_gradient_is_routed_by_the_arg_max(tmp_path) -> None:
    """JAX has no VJP for a dilated max reduce_window (NotImplementedError), so the plan says how
    the gradient is emulated."""
    case = case_from("max_pool", [1, 2, 9, 8], {"kernel_size": 3, "dilation": 2, "padding": 1}, tmp_path, grad=True)
    plan, _, _ = check(case, grad=True)
    assert plan.mode == "emulated" and "VJP" in plan.reason


@pytest.mark.parametrize("shape,params", [([2, 2, 8], {"kernel_size": 2}), ([1, 2, 6, 6], {"kernel_size": 3, "stride": 2, "padding": 1, "output_size": [6, 6]}),
                                          ([1, 1, 4, 4, 4], {"kernel_size": 2})])
def test_max_unpool_round_trip_matches_reference(tmp_path, shape, params) -> None:
    case = case_from("max_unpool", shape, params, tmp_path)
    x = make_input(case.input)
    plan = jax_adapter.plan(case)
    assert plan.mode == "emulated"
    outcome = jax_adapter.execute(case, plan, x, "cpu")
    assert compare.compare(case, reference.compute(case, x), outcome)["verdict"] == "pass"


@pytest.mark.parametrize("op,params", [
    ("max_pool", {"kernel_size": 3, "stride": 2, "padding": [[0, 2], [1, 0]], "ceil_mode": True, "dilation": [1, 2]}),
    ("avg_pool", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("avg_pool", {"kernel_size": 2, "stride": 2, "padding": [[1, 0], [0, 1]], "count_include_pad": False}),
    ("avg_pool", {"kernel_size": 3, "divisor_override": 2}),
])
def test_repro_snippet_reproduces_the_result(tmp_path, op, params) -> None:
    from harness.repro import input_code

    case = case_from(op, [1, 2, 7, 8], params, tmp_path)
    plan, outcome, ref = run(case)
    scope: dict = {}
    exec(input_code(case) + jax_adapter.repro(case, plan).replace("print(out)", ""), scope)  # noqa: S102
    assert scope["out"].dtype == outcome.output.dtype
    np.testing.assert_array_equal(scope["out"], outcome.output)  # bit for bit what the run recorded
    np.testing.assert_allclose(scope["out"], ref.output, rtol=1e-5, atol=1e-6)
