"""The window a differing result records (harness/evidence.py), checked against hand-worked windows."""

from __future__ import annotations

import numpy as np

from harness import compare, evidence, reference
from harness.adapters.base import Outcome
from harness.inputs import make_input
from tests.helpers import case_from, seed_cases


def windowed(case, wrong=None, indices=None):
    """compare() of an answer equal to the reference except where `wrong` says ({index: value})."""
    x = make_input(case.input)
    ref = reference.compute(case, x)
    out = ref.output.astype(x.dtype)
    for at, value in (wrong or {}).items():
        out[at] = value
    got = Outcome(output=out, indices=ref.indices if indices is None else indices, dtype=str(x.dtype))
    return compare.compare(case, ref, got, x)


def test_seed_d3_bottom_right_window_shows_padding_overhang_and_both_divisors() -> None:
    # SEED_EXAMPLES D3: arange(16) as 4x4, k=3, s=2, pad=1, ceil_mode, count_include_pad: the
    # bottom-right window reads rows/cols 3, 4, 5: 3 is input, 4 padding, 5 past the padded extent
    # [-1, 5). Its one real tap holds 15; the reference divides by the 4 taps in the extent
    # (3.75); a framework dividing by all 9 taps answers 15/9.
    result = windowed(seed_cases()["seed-D3-avg-ceil-cip"], {(0, 0, 2, 2): np.float32(15 / 9)})
    w = result["window"]
    assert w["at"] == [0, 0, 2, 2] and w["taps"] == [[3, 4, 5], [3, 4, 5]]
    assert w["origin"] == [-1, -1]  # the whole plane with its padding and the overhang: rows -1..5
    assert w["cells"] == [".......", ".......", ".......", ".......", "....IPO", "....PPO", "....OOO"]
    assert w["input"][0] == [None] * 7 and w["input"][4] == [None, 12.0, 13.0, 14.0, 15.0, None, None]
    assert (w["reference"], w["sum"], w["divisor"]["reference"]) == (3.75, 15.0, 4.0)
    assert abs(w["divisor"]["implied"] - 9.0) < 1e-5 and abs(w["got"] - 15 / 9) < 1e-6
    assert w["output"]["origin"] == [0, 0] and w["output"]["reference"][2] == [25 / 6, 7.0, 3.75]  # D3 bottom row: 4.1667, 7, 3.75
    assert w["output"]["got"][2][2] == float(np.float32(15 / 9)) and "maxima" not in w


def test_dilation_gaps_and_asymmetric_padding_in_1d() -> None:
    # L=6, k=3, d=2, pads (2, 0), s=3: windows start at -2 and 1; window 1 reads 1, 3, 5 with
    # gaps at 2 and 4. The crop is the padded extent [-2, 6).
    case = case_from("avg_pool", [1, 1, 6], {"kernel_size": 3, "dilation": 2, "stride": 3, "padding": [[2, 0]],
                                            "count_include_pad": False})
    w = windowed(case, {(0, 0, 1): np.float32(99.0)})["window"]
    assert w["at"] == [0, 0, 1] and w["taps"] == [[1, 3, 5]] and w["origin"] == [-2]
    assert w["cells"] == "...I-I-I"
    x = make_input(case.input)[0, 0].astype(np.float64)
    assert w["sum"] == float(x[1] + x[3] + x[5]) and w["divisor"]["reference"] == 3.0
    # window 0 reads -2 (padding), 0, 2: not the one shown, but its padding is in the crop
    assert w["input"][:2] == [None, None] and w["input"][2] == float(x[0])


def test_a_large_plane_is_cropped_around_the_window() -> None:
    case = case_from("max_pool", [1, 1, 40, 50], {"kernel_size": 3, "stride": 1})
    w = windowed(case, {(0, 0, 30, 45): np.float32(-7.0)})["window"]
    assert w["taps"] == [[30, 31, 32], [45, 46, 47]]
    rows, cols = len(w["cells"]), len(w["cells"][0])
    assert (rows, cols) == (evidence.CROP, evidence.CROP)
    r0, c0 = w["origin"]
    assert r0 <= 30 and r0 + rows > 32 and c0 <= 45 and c0 + cols > 47 and c0 + cols <= 50  # inside the plane
    assert w["cells"][30 - r0][45 - c0: 48 - c0] == "III"
    o = w["output"]
    assert len(o["got"]) == evidence.CROP and o["got"][30 - o["origin"][0]][45 - o["origin"][1]] == -7.0


def test_ties_and_indices_of_max_pooling() -> None:
    # one 2x2 window of equal values: a tie; a framework picking the last tap differs only in indices
    case = case_from("max_pool", [1, 1, 2, 2], {"kernel_size": 2, "return_indices": True},
                     input={"values": [[[[5, 5], [1, 5]]]]})
    result = windowed(case, indices=np.array([[[[3]]]]))
    w = result["window"]
    assert result["verdict"] == "tie_break" and w["at"] == [0, 0, 0, 0]
    assert w["maxima"] == [[0, 0], [0, 1], [1, 1]] and w["indices"] == {"reference": 0, "got": 3}


def test_nan_misplaced_by_max_is_shown_before_larger_differences() -> None:
    # the NaN at (1, 1) must win its window; a framework returning the window's largest number
    # instead is shown at that element, with the tap its value came from
    case = case_from("max_pool", [1, 1, 4, 4], {"kernel_size": 2},
                     input={"values": [[[[1, 2, 0, 0], [3, "nan", 0, 0], [0, 0, 0, 0], [0, 0, 0, 8]]]]})
    w = windowed(case, {(0, 0, 0, 0): np.float32(3.0), (0, 0, 1, 1): np.float32(100.0)})["window"]
    assert w["at"] == [0, 0, 0, 0] and w["reference"] == "nan" and w["got"] == 3.0
    assert w["maxima"] == [[1, 1]] and w["got_taps"] == [[1, 0]] and w["input"][1][1] == "nan"


def test_3d_records_the_window_depth_span_and_the_output_depth_plane() -> None:
    case = case_from("avg_pool", [1, 1, 5, 4, 4], {"kernel_size": 2, "stride": 2, "ceil_mode": True})
    w = windowed(case, {(0, 0, 2, 1, 0): np.float32(50.0)})["window"]
    assert w["taps"] == [[4, 5], [2, 3], [0, 1]] and w["origin"][0] == 4
    assert len(w["cells"]) == 2 and w["cells"][0][2][:2] == "II" and w["cells"][1][2][:2] == "OO"
    assert w["divisor"]["reference"] == 4.0  # the depth overhang is not counted
    assert w["output"]["origin"][0] == 2 and len(w["output"]["got"]) == 1


def test_no_window_when_nothing_differs_or_the_window_is_wider_than_a_crop() -> None:
    case = seed_cases()["seed-D3-avg-ceil-cip"]
    assert "window" not in windowed(case)
    wide = case_from("max_pool", [1, 1, 20, 20], {"kernel_size": 17, "stride": 1})
    result = windowed(wide, {(0, 0, 1, 1): np.float32(-9.0)})
    assert result["verdict"] == "numeric_mismatch" and "window" not in result


def test_a_window_of_inf_and_minus_inf_records_a_nan_sum_without_a_warning() -> None:
    # [inf, -inf, 1, 2], k=2, s=2: window 0's sum is inf + -inf = NaN (the reference's mean is NaN
    # too); the framework's wrong 5.0 is shown with that sum, and the run's terminal stays quiet.
    import warnings

    case = case_from("avg_pool", [1, 1, 4], {"kernel_size": 2}, input={"values": [[[np.inf, -np.inf, 1.0, 2.0]]]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = windowed(case, {(0, 0, 0): np.float32(5.0)})["window"]
    assert w["at"] == [0, 0, 0] and w["taps"] == [[0, 1]]
    assert w["sum"] == "nan" and w["got"] == 5.0
