"""Integer rules, hand-worked."""

from __future__ import annotations

import numpy as np

from harness import semantics


def test_pooled_length_floor_ceil_and_the_drop_rule() -> None:
    assert semantics.pooled_length(5, 3, 3, (0, 0), 1, False) == 1  # seed A2
    assert semantics.pooled_length(5, 3, 3, (0, 0), 1, True) == 2  # seed A1
    assert semantics.pooled_length(4, 3, 2, (1, 1), 1, True) == 3  # seed D3
    assert semantics.pooled_length(3, 2, 2, (1, 1), 1, True) == 2  # 3rd window would start in the padding
    assert semantics.pooled_length(9, 3, 1, (0, 0), 3, False) == 3  # dilation: extent 7
    assert semantics.pooled_length(2, 3, 1, (0, 0), 1, False) == 0  # does not fit


def test_same_padding_odd_element_after() -> None:
    assert semantics.same_padding(4, 3, 2, 1) == (0, 1)
    assert semantics.same_padding(5, 3, 2, 1) == (1, 1)
    assert semantics.same_padding(4, 2, 2, 1) == (0, 0)


def test_adaptive_bins() -> None:
    assert semantics.adaptive_bins(5, 3) == (0, 1, 3, 2, 4, 5)  # [0,2) [1,4) [3,5)
    assert semantics.adaptive_bins(3, 5) == (0, 0, 1, 1, 2, 1, 2, 2, 3, 3)  # ends ceil(0.6), ceil(1.2), ...: upsampling


def test_emulation_pads_cover_ceil_windows_and_trim_unread_padding() -> None:
    # L=5, k=2, s=2, ceil: 3 windows, the last reads index 5 -> one after-pad
    assert semantics.emulation_pads((5,), (2,), (2,), ((0, 0),), (1,), True) == ((0, 1),)
    # L=6, k=3, s=3, pad (0, 2), floor: 2 windows end at 6 -> the declared after-pad is never read
    assert semantics.emulation_pads((6,), (3,), (3,), ((0, 2),), (1,), False) == ((0, 0),)


def test_count_mask() -> None:
    # L=4, declared pad (1, 1), applied (1, 2): the second after-pad is ceil overhang
    np.testing.assert_array_equal(semantics.count_mask((4,), ((1, 1),), ((1, 2),), True), [1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(semantics.count_mask((4,), ((1, 1),), ((1, 2),), False), [0, 1, 1, 1, 1, 0, 0])


def test_unpad_flat_indices() -> None:
    # padded 4x5 plane (pads (1,0) rows, (1,1) cols) over a 3x3 input
    flat = np.array([6, 0, 13])  # (1,1) -> (0,0); (0,0) is padding; (2,3) -> (1,2)
    np.testing.assert_array_equal(semantics.unpad_flat_indices(flat, (3, 3), ((1, 0), (1, 1))), [0, -1, 5])
