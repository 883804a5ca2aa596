"""LiteRT adapter: the TF call converted to a .tflite model and run in the LiteRT interpreter.
Against the float64 reference; the converted model's ops read back as conversions; the XNNPACK
and builtin resolvers; one conversion per signature; repro scripts."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from harness import compare, reference
from harness.adapters import script
from harness.inputs import make_input
from tests.helpers import ROOT, case_from, idle_steps, run_repro, seed_cases

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tensorflow")
litert = pytest.importorskip("harness.adapters.litert")


def run(case, backend: str = "xnnpack"):
    x = make_input(case.input)
    plan = litert.plan(case, backend)
    return plan, litert.execute(case, plan, x, "cpu"), reference.compute(case, x)


def verdict(case, backend: str = "xnnpack") -> str:
    _, outcome, ref = run(case, backend)
    return compare.compare(case, ref, outcome)["verdict"]


GRID = [g for g in itertools.product(["max_pool", "avg_pool", "lp_pool"], [1, 2], [2, 3], [1, 2],
                                     [0, 1, [[0, 1]], "same"], [False, True], [True, False])
        if (g[0] == "avg_pool" or g[-1]) and not (g[0] == "lp_pool" and g[4] == "same")]


@pytest.mark.parametrize("op,n,k,s,pad,ceil,cip", GRID[::3])
def test_grid_matches_reference(tmp_path, op, n, k, s, pad, ceil, cip) -> None:
    shape = [2, 2, *[7, 6][:n]]
    padding = [pad[0]] * n if isinstance(pad, list) else pad
    params = {"kernel_size": k, "stride": s, "padding": padding, "ceil_mode": ceil}
    if op == "avg_pool":
        params["count_include_pad"] = cip
    if op == "lp_pool":
        params["norm_type"] = 2
    case = case_from(op, shape, params, tmp_path,
                     input={"shape": shape, "dtype": "float32", "generator": {"kind": "uniform", "low": 0.5, "high": 2}})
    assert verdict(case) == "pass"


def test_pad_ops_are_read_back_from_the_model(tmp_path) -> None:
    case = case_from("max_pool", [1, 2, 6, 7], {"kernel_size": 3, "stride": 2, "padding": [[1, 0], [0, 2]]}, tmp_path)
    plan, outcome, ref = run(case)
    assert plan.mode == "emulated"
    ops, ran = outcome.executed
    # -inf padding converts to PADV2 (a PAD with a constant), NHWC pads [[0,0],[1,0],[0,2],[0,0]].
    assert ops == ("converted model ops (read back from the .tflite): PADV2 [[0, 0], [1, 0], [0, 2], [0, 0]] "
                   "-> MAX_POOL_2D")
    assert "XNNPACK" in ran
    np.testing.assert_array_equal(outcome.output, ref.output)


def test_builtin_resolver_runs_without_a_delegate(tmp_path) -> None:
    case = case_from("avg_pool", [1, 2, 6, 6], {"kernel_size": 2}, tmp_path)
    plan, outcome, _ = run(case, "builtin")
    assert "BUILTIN_WITHOUT_DEFAULT_DELEGATES" in plan.args["resolver"]
    assert outcome.executed == ("converted model ops (read back from the .tflite): AVERAGE_POOL_2D",
                                "ran on builtin kernels (no delegate)")


def test_nan_average_differs_by_resolver(tmp_path) -> None:
    """tensorflow#118388: XNNPACK turns an average window holding NaN into -inf; builtin keeps NaN."""
    case = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path,
                     input={"shape": [1, 1, 4, 4], "generator": {"kind": "constant", "value": 5},
                            "inject": [{"value": float("nan"), "at": [[0, 0, 3, 2]]}]})
    xnn = run(case, "xnnpack")[1].output[0, 0]
    builtin = run(case, "builtin")[1].output[0, 0]
    np.testing.assert_array_equal(xnn, [[5, 5], [5, -np.inf]])
    np.testing.assert_array_equal(builtin, [[5, 5], [5, np.nan]])


def test_one_conversion_per_signature_timed_apart(tmp_path) -> None:
    case = case_from("avg_pool", [1, 3, 9, 11], {"kernel_size": 3, "stride": 2}, tmp_path)
    x = make_input(case.input)
    plan = litert.plan(case, "xnnpack")
    script._RUN.pop(litert.source(case, plan), None)
    first = litert.execute(case, plan, x, "cpu")
    second = litert.execute(case, plan, x, "cpu")
    assert first.convert_seconds > 0 and second.convert_seconds == 0.0
    np.testing.assert_array_equal(first.output, second.output)


@pytest.mark.parametrize("op,params,extra,reason", [
    ("max_pool", {"kernel_size": 2}, {"grad": True}, "inference only"),
    ("max_pool", {"kernel_size": 2, "dilation": 2}, {}, "no dilation"),
    ("max_pool", {"kernel_size": 2, "return_indices": True}, {}, "no argmax"),
])
def test_unsupported(tmp_path, op, params, extra, reason) -> None:
    plan = litert.plan(case_from(op, [1, 1, 7, 7], params, tmp_path, **extra), "xnnpack")
    assert plan.mode == "unsupported" and reason in plan.reason


def test_unsupported_3d_and_dtypes(tmp_path) -> None:
    assert "3-D" in litert.plan(case_from("max_pool", [1, 1, 4, 4, 4], {"kernel_size": 2}, tmp_path)).reason
    half = case_from("max_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path,
                     input={"shape": [1, 1, 4, 4], "dtype": "float16", "generator": {"kind": "randn"}})
    assert "float32" in litert.plan(half).reason


@pytest.mark.parametrize("case_id", ["seed-A2-max-k3-floor", "seed-C2-avg-k2-s2-nhwc", "seed-C3-global-max-nhwc"])
def test_repro_script_reproduces_bit_for_bit(tmp_path, case_id) -> None:
    case = seed_cases()[case_id]
    plan, outcome, _ = run(case)
    got = run_repro(case, litert.repro(case, plan), tmp_path)
    np.testing.assert_array_equal(got["out"], outcome.output)


def test_plan_imports_no_framework_and_probe_needs_litert() -> None:
    code = ("import sys; from harness.adapters import litert; from tests.helpers import seed_cases; "
            "[litert.plan(c, 'xnnpack') for c in seed_cases().values()]; "
            "assert not {'tensorflow', 'ai_edge_litert'} & set(sys.modules); "
            "sys.modules['ai_edge_litert'] = None\n"
            "try:\n    litert.probe()\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('no ImportError')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))


@pytest.mark.parametrize("op,shape,params", [
    ("max_pool", [1, 2, 6, 7], {"kernel_size": 3, "stride": 2, "padding": [[1, 0], [0, 2]]}),  # a -inf pad in front
    ("lp_pool", [1, 2, 6, 6], {"kernel_size": 2, "padding": 1, "norm_type": 2}),  # a pad, then the sums of x**2
    ("avg_pool", [1, 2, 7], {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ("global_max_pool", [1, 2, 4, 4], {"keepdims": True}),  # transposed back
])
def test_every_step_is_marked_and_does_something(tmp_path, op, shape, params) -> None:
    case = case_from(op, shape, params, tmp_path,
                     input={"shape": shape, "generator": {"kind": "uniform", "low": 0.5, "high": 2, "seed": 3}})
    plan, outcome, ref = run(case, "builtin")
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"
    assert idle_steps(case, plan, litert.repro(case, plan), tmp_path) == []
