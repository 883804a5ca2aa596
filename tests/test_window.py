"""The window view (harness/report/window.py) drawn from recorded windows of hand-worked cases."""

from __future__ import annotations

import re

import numpy as np

from harness.report import window
from harness.run import params_dict
from tests.helpers import case_from, seed_cases
from tests.test_evidence import windowed


def record(case) -> dict:
    """The case record fields the view reads (as a run writes them)."""
    return {"id": case.id, "op": case.op, "input": {"shape": list(case.input.shape), "dtype": case.input.dtype},
            "params": params_dict(case)}


def svg_counts(svg: str) -> dict[str, int]:
    return {"hatched": svg.count('fill="url(#pp-hatch)"'), "beyond": len(re.findall(r'fill="#fff" stroke="#bbb" stroke-dasharray', svg)),
            "tap": svg.count(f'stroke="{window.TAP}" stroke-width="3"/>'),
            "padding tap": svg.count(f'stroke="{window.TAP}" stroke-width="3" stroke-dasharray="5 3"'),
            "overhang tap": svg.count(f'stroke="{window.OVERHANG}" stroke-width="3" stroke-dasharray="2 2"'),
            "gap": svg.count('fill="#dce8f8"')}


def test_seed_d3_corner_window_draws_padding_overhang_and_says_both_divisors() -> None:
    case = seed_cases()["seed-D3-avg-ceil-cip"]
    w = windowed(case, {(0, 0, 2, 2): np.float32(15 / 9)})["window"]
    ((heading, svg),) = window.panels(record(case), w)
    # crop rows/cols -1..5 of a 4x4 input padded by 1: 16 input cells, position 5 (row or col) is
    # past the padded extent [-1, 5) (13 cells), the other 20 are padding
    assert heading == "" and svg_counts(svg) == {"hatched": 20, "beyond": 13, "tap": 1, "padding tap": 3,
                                                 "overhang tap": 5, "gap": 0}
    # the one real tap's value, and the padding taps' (muted): they read as 0
    assert ">15<" in svg and svg.count(f'font-size="9.5" text-anchor="middle" fill="{window.MUTED}">0<') == 3
    lines = window.caption(record(case), w, "wrongdiv-cpu", {"torch-cpu": 3.75, "wrongdiv-cpu": w["got"]})
    text = " ".join(lines)
    assert "reference 3.75, wrongdiv-cpu 1.6666666; torch-cpu 3.75" in text
    assert "1 on the input, 3 in the padding, 5 past the padded extent" in text
    assert "the reference divides by 4 (count_include_pad" in text and "wrongdiv-cpu's value is that sum divided by 15 / 1.6666666 = 9: the divisor it used" in text
    assert "3 windows where floor mode has 2" in text  # SEED_EXAMPLES D3: a 3x3 output, floor mode 2x2


def test_dilation_gaps_are_drawn_and_counted() -> None:
    case = case_from("max_pool", [1, 1, 7, 7], {"kernel_size": 2, "dilation": 3, "stride": 1})
    w = windowed(case, {(0, 0, 1, 1): np.float32(-50.0)})["window"]
    ((_, svg),) = window.panels(record(case), w)
    # taps at rows/cols 1 and 4: 4 taps; the 4x4 span holds 12 cells no tap reads
    assert svg_counts(svg)["tap"] == 4 and svg_counts(svg)["gap"] == 12
    assert "skips 12 cells between them (dilation [3, 3])" in " ".join(window.caption(record(case), w, "x-cpu", {}))


def test_1d_and_3d_layouts() -> None:
    one = case_from("avg_pool", [1, 1, 6], {"kernel_size": 3, "dilation": 2, "stride": 3, "padding": [[2, 0]]})
    w1 = windowed(one, {(0, 0, 1): np.float32(99.0)})["window"]
    ((_, svg1),) = window.panels(record(one), w1)
    assert svg_counts(svg1)["tap"] == 3 and svg_counts(svg1)["gap"] == 2 and svg_counts(svg1)["hatched"] == 2
    three = case_from("avg_pool", [1, 1, 5, 4, 4], {"kernel_size": 2, "stride": 2, "ceil_mode": True})
    w3 = windowed(three, {(0, 0, 2, 1, 0): np.float32(50.0)})["window"]
    panels = window.panels(record(three), w3)
    # depth taps 4 (input) and 5 (past the input): one panel each, the second all overhang
    assert [h for h, _ in panels] == ["depth 4 (input)", "depth 5 (beyond)"]
    assert svg_counts(panels[0][1])["tap"] == 4 and svg_counts(panels[1][1])["overhang tap"] == 4
    heatmaps = window.outputs(w3, "x-cpu", 3, 1e-5, 1e-6)
    assert heatmaps.count("<svg") == 3 and "output [1, 0]: x-cpu 50 (outside tolerance)" in heatmaps


def test_ties_badges_and_escaped_labels() -> None:
    case = case_from("max_pool", [1, 1, 2, 2], {"kernel_size": 2, "return_indices": True},
                     input={"values": [[[[5, 5], [1, 5]]]]})
    w = windowed(case, indices=np.array([[[[3]]]]))["window"]
    ((_, svg),) = window.panels(record(case), w)
    assert svg.count(">max ref<") == 1 and svg.count(">max<") == 1 and svg.count(">max fw<") == 1
    text = " ".join(window.caption(record(case), w, "<b>fw</b>", {}))
    assert "held by 3 tap(s) at (0, 0); (0, 1); (1, 1) (a tie: the reference takes the first in scan order)" in text
    assert "Indices: reference 0 = position (0, 0), <b>fw</b> 3 = position (1, 1)." in text
    heat = window.outputs(w, "<b>fw</b>", 2, 0.0, 0.0)
    assert "<b>fw</b>" not in heat and "&lt;b&gt;fw&lt;/b&gt;" in heat
