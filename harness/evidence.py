"""Stage 5 detail: what a report needs to show *why* a result differs from the reference.

For a result whose output (or indices) differ, the parent records, at compare time, the window
of one output element on the input: the element with the largest difference outside tolerance
(a misplaced NaN or infinity first), its taps with their kind (real input, declared padding,
ceil-mode overhang, dilation gap), a crop of the input plane around it, the divisor each side
used for averages, the taps holding the maximum (ties, NaN) for max pooling, and crops of the
reference and framework output planes around the element. Everything is bounded (a crop of at
most CROP cells a side, never the whole plane), so a run's results stay small; a result that
does not differ records nothing. Schema: docs/results.md ("window"); harness/report/window.py
draws it, from these records and harness/semantics.py alone.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from harness import reference
from harness.spec import ADAPTIVE_OPS, MAX_OPS, WINDOWED_OPS, Case

OPS = WINDOWED_OPS + ADAPTIVE_OPS  # ops with a window per output element (global: the whole plane)
CROP = 16  # cells a side of an input or output crop, 2-D and 3-D
CROP_1D = 48  # cells of a 1-D crop
MAX_CELLS = 2048  # a 3-D input crop (the window's depth span x CROP x CROP) past this is not recorded

# Cell codes of `cells`: a tap on real input, in the declared padding, past the padded extent
# (ceil mode's overhang); a cell inside the window's span that no tap reads (dilation); any other.
TAP_INPUT, TAP_PADDING, TAP_OVERHANG, GAP, OTHER = "I", "P", "O", "-", "."


def focus(got: np.ndarray, exp: np.ndarray, rtol: float, atol: float) -> tuple[int, ...] | None:
    """The output element to show: the first misplaced NaN or infinity, else the largest
    difference outside tolerance; None when every element is within tolerance."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(exp, dtype=np.float64)
    g_nan, e_nan = np.isnan(g), np.isnan(e)
    with np.errstate(invalid="ignore", over="ignore"):
        misplaced = (g_nan != e_nan) | ((np.isinf(g) | np.isinf(e)) & ~(g_nan | e_nan) & (g != e))
        if misplaced.any():
            return _index(int(np.argmax(misplaced)), g.shape)
        diff = np.abs(g - e)
        bad = diff > atol + rtol * np.abs(e)
    if not bad.any():
        return None
    return _index(int(np.argmax(np.where(bad, diff, -1.0))), g.shape)


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def window(case: Case, x: np.ndarray, ref: reference.Reference, output: np.ndarray,
           indices: np.ndarray | None, rtol: float, atol: float) -> dict[str, Any] | None:
    """The `window` record of a differing result, or None when there is nothing to draw (an op
    without windows, no differing element, or a window larger than a crop)."""
    if case.op not in OPS or tuple(output.shape) != ref.output.shape:
        return None
    at = focus(output, ref.output, rtol, atol)
    index_differs = (ref.indices is not None and indices is not None and indices.shape == ref.indices.shape
                     and bool((indices != ref.indices).any()))
    if at is None and index_differs:
        assert ref.indices is not None and indices is not None
        at = _index(int(np.argmax(indices != ref.indices)), indices.shape)
    if at is None:
        return None
    n, c, out = at[0], at[1], at[2:]
    taps = _taps(case, out)
    spatial = case.spatial_shape
    pads = case.params.padding or tuple((0, 0) for _ in spatial)
    boxes = _input_boxes(case, taps, pads)
    if boxes is None:
        return None
    plane = np.asarray(x[n, c], dtype=np.float64)
    got, expected = output[at], ref.output[at]
    record: dict[str, Any] = {
        "at": list(at),
        "taps": [[int(p) for p in t] for t, _, _ in taps],
        "origin": [lo for lo, _ in boxes],
        "cells": _cells(taps, boxes),
        "input": _values(plane, boxes),
        "reference": number(expected),
        "got": number(got),
        "output": _output_crop(ref.output[n, c], output[n, c], out),
    }
    real = np.ix_(*[t[r] for t, r, _ in taps])
    if case.op in ("avg_pool", "adaptive_avg_pool"):
        with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf in the window: the sum is NaN
            total = float(plane[real].sum()) if plane[real].size else 0.0
        counted = math.prod(int(r.sum()) for _, r, _ in taps), math.prod(int(e.sum()) for _, _, e in taps)
        g = float(got)
        implied = total / g if math.isfinite(g) and g != 0 and math.isfinite(total) else None
        record["sum"] = number(total)
        record["divisor"] = {"reference": float(reference.divisor_of(case, *counted)), "implied": implied}
    if case.op in MAX_OPS:
        record["maxima"] = _matching(plane, taps, ref.output[at])
        record["got_taps"] = _matching(plane, taps, got)
        if ref.indices is not None and indices is not None and indices.shape == ref.indices.shape:
            record["indices"] = {"reference": int(ref.indices[at]), "got": int(indices[at])}
    return record


Taps = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per dim: positions, reads real input, in padded extent


def _taps(case: Case, out: tuple[int, ...]) -> Taps:
    """Per spatial dim, the input positions of the element's taps and their two flags (the
    reference's own tap tables: semantics.window_taps / adaptive_taps)."""
    pos, real, extent = reference.taps_for(case)
    taps = []
    for d, o in enumerate(out):
        p, r, e = pos[d][o], real[d][o], extent[d][o]
        if case.op in ADAPTIVE_OPS:  # a bin narrower than the widest: positions past its end are no taps
            p, r, e = p[r], r[r], e[r]
        taps.append((p, r, e))
    return taps


def _box(first: int, last: int, lo: int, hi: int, side: int) -> tuple[int, int] | None:
    """[start, stop) of at most `side` cells inside [lo, hi) holding [first, last], as centred
    on the window as the bounds allow; None when the window alone is wider."""
    if last - first + 1 > side:
        return None
    if hi - lo <= side:
        return lo, hi
    start = max(lo, min(first - (side - (last - first + 1)) // 2, hi - side))
    return start, start + side


def _input_boxes(case: Case, taps: Taps, pads: tuple[tuple[int, int], ...]) -> list[tuple[int, int]] | None:
    """The crop of the input plane, per dim: the whole plane with its padding and every window's
    reach (so asymmetric pads and the ceil-mode overhang show) when it fits, else CROP cells
    around the window. In 3-D the depth crop is the window's own span."""
    pos, _, _ = reference.taps_for(case)
    spatial = case.spatial_shape
    side = CROP_1D if len(spatial) == 1 else CROP
    boxes = []
    for d, ((p, _, _), length, (before, after)) in enumerate(zip(taps, spatial, pads)):
        first, last = int(p.min()), int(p.max())
        if len(spatial) == 3 and d == 0:
            boxes.append((first, last + 1))
            continue
        lo, hi = min(-before, int(pos[d].min())), max(length + after, int(pos[d].max()) + 1)
        box = _box(first, last, lo, hi, side)
        if box is None:
            return None
        boxes.append(box)
    if math.prod(b - a for a, b in boxes) > MAX_CELLS:
        return None
    return boxes


def _outer(parts: list[np.ndarray]) -> list[np.ndarray]:
    """1-D arrays, one per dim, shaped to broadcast against each other (an open grid)."""
    n = len(parts)
    return [a.reshape([-1 if i == d else 1 for i in range(n)]) for d, a in enumerate(parts)]


def _cells(taps: Taps, boxes: list[tuple[int, int]]) -> Any:
    """The crop's cell codes, one string per row (1-D: one string; 3-D: a list of rows per depth)."""
    kind, span = [], []
    for (p, r, e), (lo, hi) in zip(taps, boxes):
        axis = np.full(hi - lo, -1, dtype=np.int8)  # -1 not a tap; else 0 real, 1 padding, 2 overhang
        axis[p - lo] = np.where(r, 0, np.where(e, 1, 2))
        inside = np.zeros(hi - lo, dtype=bool)
        inside[int(p.min()) - lo: int(p.max()) - lo + 1] = True
        kind.append(axis)
        span.append(inside)
    tap = functools.reduce(np.logical_and, _outer([a >= 0 for a in kind]))
    # A tap is real input when it is in every dim, overhang when past the extent in any.
    worst = functools.reduce(np.maximum, _outer([np.maximum(a, 0) for a in kind]))
    within = functools.reduce(np.logical_and, _outer(span))
    codes = np.where(tap, np.array([TAP_INPUT, TAP_PADDING, TAP_OVERHANG])[worst], np.where(within, GAP, OTHER))
    return _rows(np.broadcast_to(codes, tuple(hi - lo for lo, hi in boxes)))


def _rows(codes: np.ndarray) -> Any:
    if codes.ndim == 1:
        return "".join(codes.tolist())
    return [_rows(sub) for sub in codes]


def _values(plane: np.ndarray, boxes: list[tuple[int, int]]) -> Any:
    """Input values of the crop (null outside the input: padding, overhang)."""
    grids = _outer([np.arange(lo, hi) for lo, hi in boxes])
    inside = functools.reduce(np.logical_and, [(g >= 0) & (g < L) for g, L in zip(grids, plane.shape)])
    vals = plane[tuple(np.clip(g, 0, L - 1) for g, L in zip(grids, plane.shape))]
    return _nested(vals, np.broadcast_to(inside, vals.shape))


def _nested(values: np.ndarray, keep: np.ndarray | None = None) -> Any:
    """Nested lists of JSON-safe numbers; None where `keep` is false."""
    if keep is None:
        keep = np.ones(values.shape, dtype=bool)
    if values.ndim == 1:
        return [number(v) if k else None for v, k in zip(values.tolist(), keep.tolist())]
    return [_nested(v, k) for v, k in zip(values, keep)]


def _output_crop(ref_plane: np.ndarray, got_plane: np.ndarray, out: tuple[int, ...]) -> dict[str, Any]:
    """Reference and framework outputs around the element (3-D: in its depth plane)."""
    side = CROP_1D if len(out) == 1 else CROP
    boxes = []
    for d, (o, length) in enumerate(zip(out, ref_plane.shape)):
        box = (o, o + 1) if len(out) == 3 and d == 0 else _box(o, o, 0, length, side)
        assert box is not None
        boxes.append(box)
    sl = tuple(slice(lo, hi) for lo, hi in boxes)
    return {"origin": [lo for lo, _ in boxes], "reference": _nested(np.asarray(ref_plane[sl], np.float64)),
            "got": _nested(np.asarray(got_plane[sl], np.float64))}


def _matching(plane: np.ndarray, taps: Taps, value: Any) -> list[list[int]]:
    """Real taps holding `value` (NaN matches NaN), in window scan order: for max pooling, the
    taps holding the maximum (a tie when several; the reference takes the first)."""
    v = float(value)
    real = [t[r] for t, r, _ in taps]
    if not all(len(r) for r in real):
        return []
    grid = np.ix_(*real)
    vals = plane[grid]
    hit = np.isnan(vals) if math.isnan(v) else vals == v
    coords = np.nonzero(hit)
    return [[int(real[d][i[d]]) for d in range(len(real))] for i in zip(*coords)][:64]


def special_values(x: np.ndarray) -> list[str]:
    """Which of NaN, inf, -inf an input holds (the report maps divergences by them)."""
    if np.isfinite(x).all():  # one pass in the common case
        return []
    x64 = np.asarray(x, dtype=np.float64)
    return [name for name, test in (("nan", np.isnan), ("inf", np.isposinf), ("-inf", np.isneginf)) if test(x64).any()]


def values_at(ref: np.ndarray, outputs: dict[str, np.ndarray], elements: list[tuple[int, ...]]) -> list[dict[str, Any]]:
    """The case record's `focus`: at each element a result's window shows, the reference's and
    every framework's value (a window records only its own framework's), for the view to set
    them side by side."""
    return [{"at": list(at), "reference": number(ref[at]),
             "values": {label: number(out[at]) for label, out in sorted(outputs.items())}} for at in elements]


def number(v: Any) -> float | str:
    """JSON-safe number: NaN and infinities as strings (as in the comparison's DIFF)."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v
