"""Comparator: statistics, verdict order, and tie-aware classification on hand-made inputs
where the first, last and split rules give known, different answers."""

from __future__ import annotations

import numpy as np
import pytest

from harness import compare, expectations, reference
from harness.adapters.base import Outcome
from harness.inputs import make_input
from tests.helpers import case_from

# One window of four taps: [3, 1, 3, 2] -> maximum 3 tied at positions 0 and 2.
TIED = {"shape": [1, 1, 4], "values": [[[3, 1, 3, 2]]]}


def tied_case(tmp_path, **params):
    return case_from("max_pool", [1, 1, 4], {"kernel_size": 4, **params}, tmp_path, input=TIED, grad=True, upstream="ones")


def outcome_of(case, ref, indices=None, grad=None):
    return Outcome(output=ref.output.astype(np.float32), indices=indices, grad=grad, dtype="float32")


def test_reference_routes_to_first_and_knows_the_other_rules(tmp_path) -> None:
    case = tied_case(tmp_path, return_indices=True)
    ref = reference.compute(case, make_input(case.input), np.ones((1, 1, 1), np.float32))
    assert ref.indices.ravel().tolist() == [0]
    assert ref.alt_indices["last"].ravel().tolist() == [2]
    assert ref.grad.ravel().tolist() == [1, 0, 0, 0]  # first
    assert ref.alt_grads["last"].ravel().tolist() == [0, 0, 1, 0]
    assert ref.alt_grads["split"].ravel().tolist() == [0.5, 0, 0.5, 0]
    assert ref.alt_grads["all"].ravel().tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("grad,rule", [
    ([0, 0, 1, 0], "last"), ([0.5, 0, 0.5, 0], "split"), ([1, 0, 1, 0], "all"),
])
def test_gradient_tie_rules_are_tie_break(tmp_path, grad, rule) -> None:
    case = tied_case(tmp_path)
    ref = reference.compute(case, make_input(case.input), np.ones((1, 1, 1), np.float32))
    result = compare.compare(case, ref, outcome_of(case, ref, grad=np.array([[grad]], np.float32)))
    assert result["verdict"] == "tie_break" and result["grad"]["tie_rule"] == rule


def test_gradient_on_a_non_maximum_is_a_mismatch(tmp_path) -> None:
    case = tied_case(tmp_path)
    ref = reference.compute(case, make_input(case.input), np.ones((1, 1, 1), np.float32))
    result = compare.compare(case, ref, outcome_of(case, ref, grad=np.array([[[0, 0, 0, 1]]], np.float32)))
    assert result["verdict"] == "numeric_mismatch"


def test_index_last_and_wrong(tmp_path) -> None:
    case = tied_case(tmp_path, return_indices=True)
    ref = reference.compute(case, make_input(case.input), np.ones((1, 1, 1), np.float32))
    grad = ref.grad.astype(np.float32)
    last = compare.compare(case, ref, outcome_of(case, ref, indices=np.array([[[2]]]), grad=grad))
    assert last["verdict"] == "tie_break" and last["indices"]["tie_rule"] == "last"
    wrong = compare.compare(case, ref, outcome_of(case, ref, indices=np.array([[[3]]]), grad=grad))
    assert wrong["verdict"] == "numeric_mismatch"


def test_index_other_rule_in_two_windows(tmp_path) -> None:
    """Three tied maxima per window: choosing the middle one is neither first nor last."""
    case = case_from("max_pool", [1, 1, 6], {"kernel_size": 3, "return_indices": True}, tmp_path,
                     input={"shape": [1, 1, 6], "values": [[[5, 5, 5, 7, 7, 7]]]})
    ref = reference.compute(case, make_input(case.input))
    result = compare.compare(case, ref, outcome_of(case, ref, indices=np.array([[[1, 4]]])))
    assert result["verdict"] == "tie_break" and result["indices"]["tie_rule"] == "other"


def test_stats_nan_placement_and_ulp() -> None:
    got = np.array([1.0, np.nan, 3.0, 4.0], np.float32)
    exp = np.array([1.0, 2.0, 3.0, np.nextafter(np.float32(4.0), np.float32(5.0))], np.float64)
    stats = compare.diff_arrays(got, exp, 0.0, 0.0, "float32")
    assert stats["mismatches"] == 2 and stats["nan_mismatches"] == 1
    assert stats["max_ulp"] == 1.0
    assert stats["first"][0] == {"index": [1], "got": "nan", "expected": 2.0}


def test_shape_mismatch_comes_first(tmp_path) -> None:
    case = case_from("max_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path)
    ref = reference.compute(case, make_input(case.input))
    result = compare.compare(case, ref, Outcome(output=np.zeros((1, 1, 3), np.float32), dtype="float32"))
    assert result["verdict"] == "shape_mismatch" and "[1, 1, 3]" in result["reason"]


def test_stats_all_finite_path_hand_worked() -> None:
    # |diff| = [0, 0.5, 0.25]; tolerance 1e-6 + 0.1*|e| = [~0.1, ~0.2, ~0.4]: only index 1 fails.
    got = np.array([1.0, 2.5, 4.25], np.float32)
    exp = np.array([1.0, 2.0, 4.0])
    stats = compare.diff_arrays(got, exp, 0.1, 1e-6, "float32")
    assert (stats["mismatches"], stats["nan_mismatches"], stats["inf_mismatches"]) == (1, 0, 0)
    assert stats["max_abs"] == 0.5 and stats["max_rel"] == 0.25
    assert stats["max_ulp"] == 2**21  # 0.5 at exponent 1 (ulp 2**-22): 2**21 float32 steps
    assert stats["first"] == [{"index": [1], "got": 2.5, "expected": 2.0}]
    assert stats["worst"] == {"index": [1], "got": 2.5, "expected": 2.0}


def test_stats_exact_with_nan_in_place_and_misplaced_infinity() -> None:
    same = compare.diff_arrays(np.array([np.nan, 1.0], np.float32), np.array([np.nan, 1.0]), 0.0, 0.0, "float32")
    assert (same["mismatches"], same["max_abs"], same["max_ulp"], same["worst"]) == (0, 0.0, 0.0, None)
    inf = compare.diff_arrays(np.array([-np.inf, 1.0], np.float32), np.array([-3.0, 1.0]), 0.0, 0.0, "float32")
    assert (inf["mismatches"], inf["inf_mismatches"], inf["max_abs"]) == (1, 1, 0.0)
    assert inf["first"] == [{"index": [0], "got": "-inf", "expected": -3.0}]
    ints = compare.diff_arrays(np.array([1, 5]), np.array([1.0, 2.0]), 0.0, 0.0, "int64")
    assert (ints["mismatches"], ints["max_abs"], ints["max_ulp"]) == (1, 3.0, None)


def test_heatmap_only_where_a_2d_output_disagrees(tmp_path) -> None:
    case = case_from("avg_pool", [1, 1, 4, 4], {"kernel_size": 2}, tmp_path)
    ref = reference.compute(case, make_input(case.input))
    rounded = compare.compare(case, ref, Outcome(output=ref.output.astype(np.float32), dtype="float32"))
    assert rounded["verdict"] == "pass" and "heatmap" not in rounded
    wrong = ref.output.astype(np.float32)
    wrong[0, 0, 1, 0] += 1
    result = compare.compare(case, ref, Outcome(output=wrong, dtype="float32"))
    assert result["verdict"] == "numeric_mismatch"
    grid = np.array(result["heatmap"])
    assert grid.shape == (2, 2) and abs(grid[1, 0] - 1) < 1e-6 and np.delete(grid.ravel(), 2).max() < 1e-6


def test_ulp_distance_is_exact_for_float64_and_across_zero() -> None:
    three = np.array([3.0])
    assert compare.diff_arrays(np.nextafter(three, 4.0), three, 0.0, 0.0, "float64")["max_ulp"] == 1.0
    tiny = np.array([5e-324])  # the smallest float64 subnormal: -tiny to +tiny is 2 steps (through 0)
    assert compare.diff_arrays(-tiny, tiny, 0.0, 0.0, "float64")["max_ulp"] == 2.0
    assert compare.diff_arrays(np.array([-0.0]), np.array([0.0]), 0.0, 0.0, "float32")["max_ulp"] == 0.0
    half = np.array([1.0], np.float16)
    assert compare.diff_arrays(np.nextafter(half, np.float16(2)), half, 0.0, 0.0, "float16")["max_ulp"] == 1.0


def test_differences_within_atol_and_ulp_of_an_answer_wider_than_the_case_dtype() -> None:
    # Every |diff| <= atol passes whatever rtol says; a hair over atol with rtol 0 fails.
    exp = np.array([0.0, 1.0, -2.0])
    ok = compare.diff_arrays(exp + np.array([0.0, 2**-10, -(2**-10)]), exp, 0.0, 2**-10, "float64")
    assert (ok["mismatches"], ok["max_abs"], ok["max_rel"]) == (0, 2**-10, 2**-10)
    over = compare.diff_arrays(exp + np.array([0.0, 2**-9, 0.0]), exp, 0.0, 2**-10, "float64")
    assert over["mismatches"] == 1 and over["first"][0]["index"] == [1]
    # A float64 answer to a float32 case is rounded to float32 before counting ULPs: 1 + 2**-30
    # rounds to 1 (0 ULP) and 1 + 2**-23 is 1 float32 ULP, as the same values given in float32.
    one = np.array([1.0, 1.0])
    wide = compare.diff_arrays(np.array([1 + 2**-30, 1 + 2**-23]), one, 0.0, 0.0, "float32")
    narrow = compare.diff_arrays(np.array([1.0, 1 + 2**-23], np.float32), one, 0.0, 0.0, "float32")
    assert wide["max_ulp"] == narrow["max_ulp"] == 1.0
    assert compare.diff_arrays(np.array([1 + 2**-30]), np.array([1.0]), 0.0, 0.0, "float32")["max_ulp"] == 0.0


def test_pairwise_agreement(tmp_path) -> None:
    case = case_from("avg_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path)  # float32: rtol 1e-5, atol 1e-6
    base = np.array([[[1.0, np.nan, 3.0]]], np.float32)
    outputs = {"a": base, "b": base + np.float32([[[0, 0, 1e-6]]]), "c": base + np.float32([[[0.5, 0, 0]]]),
               "d": base[..., :2]}
    pairs = {(p["a"], p["b"]): p for p in compare.agreement(case, outputs)}
    assert pairs["a", "b"]["agree"] and 0 < pairs["a", "b"]["max_abs"] < 1e-5
    assert not pairs["a", "c"]["agree"] and pairs["a", "c"]["mismatches"] == 1 and pairs["a", "c"]["max_abs"] == 0.5
    assert "1/3 elements differ" in pairs["a", "c"]["detail"]
    assert not pairs["a", "d"]["agree"] and pairs["a", "d"]["detail"] == "shapes [1, 1, 3] vs [1, 1, 2]"


def test_agreement_of_outputs_equal_to_the_reference_needs_no_arithmetic(tmp_path) -> None:
    case = case_from("max_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path)
    same = np.array([[[1.0, 2.0, 3.0]]], np.float32)
    off = same + np.float32(1)
    pairs = compare.agreement(case, {"a": same, "b": same.copy(), "c": off}, exact=frozenset({"a", "b"}))
    assert [(p["a"], p["b"], p["agree"], p["max_abs"]) for p in pairs] == [
        ("a", "b", True, 0.0), ("a", "c", False, 1.0), ("b", "c", False, 1.0)]


@pytest.mark.parametrize("raw,final,note", [
    ("error", "known_divergence", "machine-dependent (oneDNN on): error on this machine, declared error | pass: why"),
    ("pass", "pass", "machine-dependent (oneDNN on): pass on this machine, declared error | pass: why"),
    ("numeric_mismatch", "numeric_mismatch", "expected error | pass, got numeric_mismatch"),
])
def test_machine_dependent_expectation_accepts_each_listed_outcome(raw, final, note) -> None:
    from harness.spec import Expectation

    either = Expectation(("error", "pass"), "why", condition="oneDNN on")
    assert expectations.apply(raw, either, "cpu") == (final, note)


def test_a_single_expectation_stays_strict() -> None:
    from harness.spec import Expectation

    one = Expectation(("error",), "why")
    assert expectations.apply("error", one, "cpu") == ("known_divergence", "why")
    assert expectations.apply("pass", one, "cpu")[0] == "unexpected_pass"
    assert expectations.apply("numeric_mismatch", one, "cpu")[0] == "numeric_mismatch"
    either_but_divergent = Expectation(("error", "numeric_mismatch"), "why")  # pass is not among them
    assert expectations.apply("pass", either_but_divergent, "cpu")[0] == "unexpected_pass"
