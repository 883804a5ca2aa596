"""The float64 reference against the seeds (values typed in from SEED_EXAMPLES.md) and
hand-worked examples; never against a framework."""

from __future__ import annotations

import numpy as np
import pytest

from harness import reference
from harness.inputs import make_input
from tests.helpers import case_from, seed_cases

SEEDS = seed_cases()

# id -> (expected output, expected indices or None), typed in from ../shared/SEED_EXAMPLES.md
SEED_VALUES = {
    "seed-A1-max-k3-ceil": ([[2, 3], [5, 1]], None),
    "seed-A2-max-k3-floor": ([[2]], None),
    "seed-A3-max-k3-ceil-int64": ([[2, 3], [5, 1]], None),
    "seed-B1-max-k2-s1": ([[4, 5], [7, 8]], None),
    "seed-B1-avg-k2-s1": ([[2, 3], [5, 6]], None),
    "seed-B2-max-k3": ([[10]], None),
    "seed-B3-max-k3-p1-s2": ([[5, 7], [13, 15]], None),
    "seed-B4-max-k2x3-p1-s2x3": ([[1, 3], [9, 11], [13, 15]], None),
    "seed-B5-max-two-channels": ([[[5, 7], [13, 15]], [[6, 8], [14, 16]]], None),
    "seed-C1-max-k2-s2-nhwc": ([[9, 7], [8, 6]], None),
    "seed-C2-avg-k2-s2-nhwc": ([[4.25, 4.25], [4.25, 3.5]], None),
    "seed-C3-global-max-nhwc": ([9.0], None),
    "seed-C3-global-avg-nhwc": ([4.0625], None),
    "seed-D1-max-k2-s2-indices": ([[9, 7], [8, 6]], [[4, 2], [8, 15]]),
    "seed-D3-avg-ceil-cip": ([[1.1111, 2.6667, 1.6667], [5.6667, 10, 5.5], [4.1667, 7, 3.75]], None),
    "seed-D4-avg-ceil-nocip": ([[2.5, 4, 5], [8.5, 10, 11], [12.5, 14, 15]], None),
    "seed-D5-avg-divisor-override": ([[5, 12], [25.5, 45]], None),
}


def test_every_seed_case_has_typed_values() -> None:
    assert set(SEED_VALUES) == set(SEEDS)


@pytest.mark.parametrize("case_id", sorted(SEED_VALUES))
def test_seed(case_id: str) -> None:
    case = SEEDS[case_id]
    expected, indices = SEED_VALUES[case_id]
    ref = reference.compute(case, make_input(case.input))
    out = ref.output[0] if case.input.shape[1] > 1 else ref.output[0, 0] if ref.output.ndim > 2 else ref.output[0]
    np.testing.assert_allclose(out, np.asarray(expected, dtype=float), atol=1e-4)
    if indices is not None:
        assert ref.indices is not None
        np.testing.assert_array_equal(ref.indices[0, 0], indices)


def test_seed_D2_unpool_from_D1_indices() -> None:
    """D2: scattering D1's values to D1's indices gives MaxUnpool2d's output."""
    case = SEEDS["seed-D1-max-k2-s2-indices"]
    ref = reference.compute(case, make_input(case.input))
    assert ref.indices is not None
    plane = np.zeros(16)
    plane[ref.indices.ravel()] = ref.output.ravel()
    expected = [[0, 0, 7, 0], [9, 0, 0, 0], [8, 0, 0, 0], [0, 0, 0, 6]]
    np.testing.assert_array_equal(plane.reshape(4, 4), expected)


def _values(values: list, shape: list[int]) -> dict:
    return {"shape": shape, "values": values}


def test_max_nan_propagates_and_padding_is_minus_inf(tmp_path) -> None:
    row = [[[-5.0, "nan", -1.0, -2.0]]]
    case = case_from("max_pool", [1, 1, 4], {"kernel_size": 2, "stride": 2, "padding": 1}, tmp_path,
                     input=_values(row, [1, 1, 4]))
    ref = reference.compute(case, make_input(case.input))
    # windows: [pad, -5], [nan, -1], [-2, pad]: padding never wins, NaN wins
    out = ref.output[0, 0]
    assert out[0] == -5.0 and np.isnan(out[1]) and out[2] == -2.0


def test_avg_divisors_count_include_pad_and_ceil_overhang(tmp_path) -> None:
    """L=6, k=3, s=2, pad 1, ceil: out = ceil((6+2-3)/2)+1 = 4; the last window starts at input
    position 5 (< L + before = 7, so it is kept) and covers 5 (real), 6 (padding), 7 (overhang)."""
    vals = [[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]]
    params = {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}
    cip = case_from("avg_pool", [1, 1, 6], params, tmp_path, input=_values(vals, [1, 1, 6]))
    # (pad+1+2)/3, (2+3+4)/3, (4+5+6)/3, (6+pad)/2: the pad tap counts, the overhang does not
    np.testing.assert_allclose(reference.compute(cip, make_input(cip.input)).output[0, 0], [1, 3, 5, 3])
    nocip = case_from("avg_pool", [1, 1, 6], {**params, "count_include_pad": False}, tmp_path,
                      input=_values(vals, [1, 1, 6]))
    np.testing.assert_allclose(reference.compute(nocip, make_input(nocip.input)).output[0, 0], [1.5, 3, 5, 6])


def test_ceil_mode_drops_window_starting_in_right_padding(tmp_path) -> None:
    # L=4, k=3, s=2, pad 1: ceil((4+2-3)/2)+1 = 3, but window 2 starts at 3 = L+pad-... (2*2-1=3 < 5) kept;
    # L=3, k=2, s=2, pad 1: ceil((3+2-2)/2)+1 = 3; window 2 starts at 2*2-1 = 3 >= L=3 -> in the
    # right padding -> dropped, so 2 windows.
    case = case_from("max_pool", [1, 1, 3], {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, tmp_path)
    assert reference.output_shape(case) == (1, 1, 2)


def test_same_padding_puts_extra_on_the_after_side(tmp_path) -> None:
    vals = [[[1.0, 2.0, 3.0, 4.0]]]
    case = case_from("avg_pool", [1, 1, 4], {"kernel_size": 3, "stride": 2, "padding": "same"}, tmp_path,
                     input=_values(vals, [1, 1, 4]))
    assert case.params.padding == ((0, 1),)  # total pad 1 (out=2: (2-1)*2+3-4), odd element after
    np.testing.assert_allclose(reference.compute(case, make_input(case.input)).output[0, 0], [2.0, 3.5])


def test_dilation_spaces_the_taps(tmp_path) -> None:
    vals = [[[0.0, 10.0, 1.0, 20.0, 2.0, 30.0]]]
    case = case_from("max_pool", [1, 1, 6], {"kernel_size": 3, "stride": 1, "dilation": 2, "return_indices": True},
                     tmp_path, input=_values(vals, [1, 1, 6]))
    ref = reference.compute(case, make_input(case.input))
    # taps (0,2,4) -> 2 at index 4; taps (1,3,5) -> 30 at index 5
    assert ref.output[0, 0].tolist() == [2.0, 30.0]
    assert ref.indices is not None and ref.indices[0, 0].tolist() == [4, 5]


def test_asymmetric_padding_3d_shapes_and_values(tmp_path) -> None:
    case = case_from("avg_pool", [1, 1, 2, 2, 2], {"kernel_size": 2, "stride": 1, "padding": [[1, 0], [0, 1], [0, 0]],
                                                   "count_include_pad": True}, tmp_path,
                     input={"shape": [1, 1, 2, 2, 2], "generator": {"kind": "constant", "value": 8}})
    ref = reference.compute(case, make_input(case.input)).output
    assert ref.shape == (1, 1, 2, 2, 1)
    # first depth row reads the before-pad: half the 8 taps are zeros -> 4; last row reads the after-pad of H
    np.testing.assert_allclose(ref[0, 0, :, :, 0], [[4.0, 2.0], [8.0, 4.0]])


def test_adaptive_bins_overlap_when_size_does_not_divide(tmp_path) -> None:
    vals = [[[1.0, 2.0, 3.0, 4.0, 5.0]]]
    case = case_from("adaptive_avg_pool", [1, 1, 5], {"output_size": 3}, tmp_path, input=_values(vals, [1, 1, 5]))
    # bins [0,2) [1,4) [3,5): means 1.5, 3, 4.5
    np.testing.assert_allclose(reference.compute(case, make_input(case.input)).output[0, 0], [1.5, 3.0, 4.5])


def test_lp_pool_is_sum_of_powers_root(tmp_path) -> None:
    vals = [[[3.0, 4.0, 1.0, 2.0]]]
    case = case_from("lp_pool", [1, 1, 4], {"kernel_size": 2, "norm_type": 2}, tmp_path, input=_values(vals, [1, 1, 4]))
    np.testing.assert_allclose(reference.compute(case, make_input(case.input)).output[0, 0], [5.0, np.sqrt(5.0)])


def test_global_keepdims_shapes(tmp_path) -> None:
    for keep, shape in ((True, (2, 3, 1, 1)), (False, (2, 3))):
        case = case_from("global_avg_pool", [2, 3, 4, 5], {"keepdims": keep}, tmp_path)
        x = make_input(case.input)
        out = reference.compute(case, x).output
        assert out.shape == shape
        np.testing.assert_allclose(out.reshape(2, 3), x.astype(float).mean(axis=(2, 3)))


def test_max_index_tie_rule_is_first_in_scan_order(tmp_path) -> None:
    case = case_from("max_pool", [1, 1, 2, 2], {"kernel_size": 2, "return_indices": True}, tmp_path,
                     input={"shape": [1, 1, 2, 2], "generator": {"kind": "constant", "value": 1}})
    ref = reference.compute(case, make_input(case.input))
    assert ref.indices is not None and ref.indices.item() == 0
    assert ref.tied is not None and bool(ref.tied.item())


def test_gradients_hand_worked(tmp_path) -> None:
    vals = [[[1.0, 3.0, 2.0, 0.0]]]
    up = np.array([[[10.0, 20.0]]])
    mx = case_from("max_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path, input=_values(vals, [1, 1, 4]))
    np.testing.assert_allclose(reference.compute(mx, make_input(mx.input), up).grad[0, 0], [0, 10, 20, 0])
    av = case_from("avg_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path, input=_values(vals, [1, 1, 4]))
    np.testing.assert_allclose(reference.compute(av, make_input(av.input), up).grad[0, 0], [5, 5, 10, 10])


def test_avg_gradient_matches_finite_differences(tmp_path) -> None:
    case = case_from("avg_pool", [1, 2, 5, 4], {"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 1],
                                                "ceil_mode": True, "count_include_pad": False}, tmp_path,
                     input={"shape": [1, 2, 5, 4], "dtype": "float64", "generator": {"kind": "randn", "seed": 3}})
    x = make_input(case.input)
    up = np.random.default_rng(0).standard_normal(reference.output_shape(case))
    grad = reference.compute(case, x, up).grad
    eps, numeric = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        numeric[i] = ((reference.compute(case, x + d).output - reference.compute(case, x - d).output) * up).sum() / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-6)


def test_seed_D2_max_unpool_case(tmp_path) -> None:
    """D2 as an op: MaxUnpool2d(2, 2) of MaxPool2d(2, 2, return_indices=True)."""
    case = case_from("max_unpool", [1, 1, 4, 4], {"kernel_size": 2, "stride": 2}, tmp_path,
                     input={"shape": [1, 1, 4, 4], "values": [[[[2, 2, 7, 3], [9, 4, 6, 1], [8, 5, 2, 4], [3, 1, 2, 6]]]]})
    assert case.params.output_size == (4, 4)  # PyTorch's default: (2-1)*2 - 0 + 2
    out = reference.compute(case, make_input(case.input)).output
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 7, 0], [9, 0, 0, 0], [8, 0, 0, 0], [0, 0, 0, 6]])


def test_max_unpool_scatters_flat_indices_into_the_output_plane(tmp_path) -> None:
    """L=5, k=s=2: indices live in a 5-wide plane but are scattered flat into a 5x4 output (as
    PyTorch does), so the index 5+1=6 of (1, 1) lands at (1, 2) of the 4-wide output."""
    vals = [[[[0, 9, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]]]
    vals[0][0][1][1] = 7  # (1, 1): flat 6 in the 5-wide input plane
    vals[0][0][0][1] = 0
    case = case_from("max_unpool", [1, 1, 5, 5], {"kernel_size": 2, "output_size": [5, 4]}, tmp_path,
                     input={"shape": [1, 1, 5, 5], "values": vals})
    out = reference.compute(case, make_input(case.input)).output[0, 0]
    assert out.shape == (5, 4) and out[1, 2] == 7 and out.sum() == 7


def test_max_unpool_rejects_an_output_too_small_for_the_indices(tmp_path) -> None:
    with pytest.raises(Exception, match="cannot hold flat index 18"):
        case_from("max_unpool", [1, 1, 5, 5], {"kernel_size": 2}, tmp_path)
