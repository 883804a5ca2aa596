"""Keras adapter (TensorFlow backend in-process; jax and torch backends through workers)
against the float64 reference and the seed article's Keras examples."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":
    pytest.skip("Keras was imported with another backend in this process", allow_module_level=True)

from harness import compare, reference  # noqa: E402
from harness.adapters import keras3  # noqa: E402
from harness.inputs import make_input, make_upstream  # noqa: E402
from tests.helpers import case_from, seed_cases  # noqa: E402


def run(case, grad: bool = False):
    x = make_input(case.input)
    up = make_upstream(case, reference.output_shape(case)) if grad else None
    plan = keras3.plan(case, "tensorflow")
    return plan, keras3.execute(case, plan, x, "cpu", up), reference.compute(case, x, up)


SPATIAL = {1: [11], 2: [7, 8], 3: [5, 6, 4]}


def grid() -> list[tuple]:
    combos = itertools.product(["max_pool", "avg_pool"], [1, 2, 3], [2, 3], [1, 2], ["zero", "sym", "asym", "same"],
                               [False, True], [True, False], [None, 2])
    keep = [c for c in combos if c[0] == "avg_pool" or (c[6] and c[7] is None)]
    return keep[::3]


@pytest.mark.parametrize("op,n,k,s,pad,ceil,cip,div", grid())
def test_grid_matches_reference(tmp_path, op, n, k, s, pad, ceil, cip, div) -> None:
    padding = {"zero": 0, "sym": 1, "asym": [[0, 1]] * n, "same": "same"}[pad]
    params = {"kernel_size": k, "stride": s, "padding": padding, "ceil_mode": ceil}
    if op == "avg_pool":
        params["count_include_pad"] = cip
        if div:
            params["divisor_override"] = div
    shape = [2, 3, *SPATIAL[n]]
    # TF has no float64 kernels for 3-D pooling (cases/dtypes.yaml records it)
    dtype = "float32" if n == 3 else "float64"
    case = case_from(op, shape, params, tmp_path, grad=n < 3,
                     input={"shape": shape, "dtype": dtype, "generator": {"kind": "randn", "seed": 3}})
    plan, outcome, ref = run(case, grad=n < 3)
    result = compare.compare(case, ref, outcome)
    assert result["verdict"] == "pass", (plan.mode, plan.conversions(), result.get("reason"))


@pytest.mark.parametrize("op,params", [
    ("global_max_pool", {"keepdims": True}), ("global_avg_pool", {"keepdims": False}),
    ("adaptive_max_pool", {"output_size": [3, 4]}), ("adaptive_avg_pool", {"output_size": [3, 3]}),
])
def test_global_and_adaptive(tmp_path, op, params) -> None:
    case = case_from(op, [2, 3, 7, 8], params, tmp_path)
    plan, outcome, ref = run(case)
    assert plan.mode == "native"
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"


def test_conversions_record_both_transposes_and_the_pad(tmp_path) -> None:
    plain = keras3.plan(case_from("max_pool", [1, 2, 6, 6], {"kernel_size": 2}, tmp_path))
    assert plain.mode == "native" and "padding='valid'" in plain.call
    assert plain.conversions() == ["transpose input NCHW -> NHWC (perm [0, 2, 3, 1])",
                                   "transpose output NHWC -> NCHW (perm [0, 3, 1, 2])"]
    asym = keras3.plan(case_from("avg_pool", [1, 2, 6, 6], {"kernel_size": 3, "padding": [[0, 1], [1, 0]]}, tmp_path))
    text = asym.conversions()
    assert asym.mode == "emulated" and text[0].startswith("transpose input NCHW")
    # only the pads a window reads: H after-pad 1 is never reached by a 3-window at stride 3
    assert text[1].startswith("pad spatial dims [[0, 0], [1, 0]] with 0") and text[-1].startswith("transpose output")
    same = keras3.plan(case_from("avg_pool", [1, 2, 6, 6], {"kernel_size": 3, "stride": 2, "padding": "same"}, tmp_path))
    assert same.mode == "native" and "padding='same'" in same.call
    same_cip = keras3.plan(case_from("avg_pool", [1, 2, 6, 6], {"kernel_size": 3, "stride": 2, "padding": "same",
                                                                "count_include_pad": True}, tmp_path))
    assert same_cip.mode == "emulated"


@pytest.mark.parametrize("op,params,reason", [
    ("max_pool", {"kernel_size": 2, "dilation": 2}, "Keras pooling has no dilation"),
    ("lp_pool", {"kernel_size": 2, "norm_type": 2}, "Keras has no Lp pooling"),
    ("max_pool", {"kernel_size": 2, "return_indices": True, "dilation": 2}, "no dilation"),
    ("adaptive_max_pool", {"output_size": 2, "return_indices": True}, "returns no argmax indices"),
])
def test_unsupported_reasons(tmp_path, op, params, reason) -> None:
    plan = keras3.plan(case_from(op, [1, 1, 8, 8], params, tmp_path))
    assert plan.mode == "unsupported" and reason in plan.reason


# Typed in from ../shared/SEED_EXAMPLES.md, section C (Keras layers on NHWC data).
SEED_C = {
    "seed-C1-max-k2-s2-nhwc": [[9, 7], [8, 6]],
    "seed-C2-avg-k2-s2-nhwc": [[4.25, 4.25], [4.25, 3.5]],
    "seed-C3-global-max-nhwc": [9.0],
    "seed-C3-global-avg-nhwc": [4.0625],
}


@pytest.mark.parametrize("case_id", sorted(SEED_C))
def test_seed_keras_examples_in_nhwc(case_id: str) -> None:
    case = seed_cases()[case_id]
    assert case.input.layout == "channels_last"
    _, outcome, _ = run(case)
    np.testing.assert_allclose(outcome.output.reshape(-1), np.ravel(SEED_C[case_id]))


def test_native_override_runs_the_plain_keras_call(tmp_path) -> None:
    case = case_from("avg_pool", [1, 1, 5, 5], {"kernel_size": 2, "stride": 2}, tmp_path,
                     native={"keras": {"padding": "same"}},
                     input={"shape": [1, 1, 5, 5], "generator": {"kind": "arange"}})
    plan, outcome, ref = run(case)
    assert plan.mode == "native-override"
    assert outcome.output.shape == (1, 1, 3, 3) and ref.output.shape == (1, 1, 2, 2)
    assert outcome.output[0, 0, 2, 2] == 24.0  # the lone corner: 'same' divides by its one real tap


def test_tf_max_pool_gives_lowest_float_not_minus_inf(tmp_path) -> None:
    case = case_from("max_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path,
                     input={"shape": [1, 1, 4], "generator": {"kind": "constant", "value": "-inf"}})
    _, outcome, ref = run(case)
    assert np.all(ref.output == -np.inf) and np.all(outcome.output == np.finfo(np.float32).min)


@pytest.mark.parametrize("backend", ["keras-jax", "keras-torch"])
def test_other_backends_through_workers(tmp_path, backend) -> None:
    from harness.cli import main

    out = tmp_path / "out"
    code = main(["run", "cases/seeds.yaml", "--frameworks", backend, "--out", str(out), "-q", "--jobs", "1"])
    doc = json.loads((out / "results.json").read_text())
    verdicts = {r["verdict"] for r in doc["results"]}
    assert code == 0 and verdicts <= {"pass", "unsupported", "known_divergence"} and "pass" in verdicts
    assert doc["meta"]["frameworks"][backend]["env"]["KERAS_BACKEND"] == backend.split("-")[1]


@pytest.mark.parametrize("params", [
    {"kernel_size": 2, "stride": 2}, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "padding": [[0, 2], [1, 0]]},
])
def test_tf_argmax_indices_are_remapped_to_the_reference_convention(tmp_path, params) -> None:
    case = case_from("max_pool", [2, 3, 7, 6], {**params, "return_indices": True}, tmp_path, grad=True)
    plan, outcome, ref = run(case, grad=True)
    assert plan.mode == "native" and any("index remap" in c for c in plan.conversions())
    assert compare.compare(case, ref, outcome)["verdict"] == "pass"


def test_seed_D1_indices_through_tf_argmax() -> None:
    case = seed_cases()["seed-D1-max-k2-s2-indices"]
    _, outcome, _ = run(case)
    np.testing.assert_array_equal(outcome.indices[0, 0], [[4, 2], [8, 15]])  # SEED_EXAMPLES.md D1
