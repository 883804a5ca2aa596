"""Stage 5: compare a framework's outcome with the reference, and frameworks with each other.

Checks run in a fixed order (error, support, shape, dtype, NaN/inf placement, values, then
indices and gradients); the first disagreement decides the verdict and every statistic is
recorded. Tolerances live in one table, TOLERANCES, documented in docs/semantics.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import evidence
from harness.inputs import np_dtype
from harness.reference import Reference
from harness.spec import INT_DTYPES, MAX_OPS, Case

# (rtol, atol) for averaging ops per input dtype; a value passes when
# |got - ref| <= atol + rtol * |ref|. Max pooling, indices and shapes are always exact.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-12),
    "float32": (1e-5, 1e-6),
    "float16": (2e-3, 1e-3),  # about 2 ulp of float16 (eps 2**-10)
    "bfloat16": (1.6e-2, 1e-2),  # about 2 ulp of bfloat16 (eps 2**-7)
    "int32": (0.0, 0.0),
    "int64": (0.0, 0.0),
    "uint8": (0.0, 0.0),
    "int8": (0.0, 0.0),
}
MAX_LOCATIONS = 5


def tolerance(case: Case) -> tuple[float, float]:
    if case.op in MAX_OPS:
        return 0.0, 0.0
    if case.tolerance:
        return case.tolerance
    # An average of integers is not an integer: frameworks return float32, float64 or a
    # truncated integer. Hold the value to float32 precision; truncation still fails.
    return TOLERANCES["float32" if case.input.dtype in INT_DTYPES else case.input.dtype]


# float width: (integer type of that width, its largest value)
_INTS: dict[int, tuple[Any, Any]] = {n: (t, t(np.iinfo(t).max)) for n, t in ((2, np.int16), (4, np.int32), (8, np.int64))}


def _ordered(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Map floats (rounded to `dtype`) to integers of the same width whose difference is the
    distance in units in the last place (+0 and -0 both map to 0)."""
    width, top = _INTS[dtype.itemsize]
    bits: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] = a.astype(dtype, copy=False).view(width)
    sign = bits >> (8 * dtype.itemsize - 1)  # -1 for negative floats, else 0
    return (bits ^ (sign & top)) - sign


class Expected:
    """The expected side of a comparison, with its ULP ordering computed once (the costliest part
    that does not depend on the answer): a case's reference is compared with every framework's
    answer. (Caching |e|-based tolerances too saves a little more time but holds three more
    arrays per open case.)"""

    __slots__ = ("e", "rtol", "atol", "dtype", "_ordered")
    _ordered: np.ndarray | None

    def __init__(self, exp: np.ndarray, rtol: float, atol: float, dtype: str) -> None:
        self.e = np.asarray(exp, dtype=np.float64)
        self.rtol, self.atol, self.dtype = rtol, atol, dtype
        self._ordered = None

    @property
    def ordered(self) -> np.ndarray:
        """e rounded to the case dtype, as ULP-ordered integers (see _ordered)."""
        if self._ordered is None:
            with np.errstate(over="ignore", invalid="ignore"):
                self._ordered = _ordered(self.e, np_dtype(self.dtype))
        return self._ordered


def expected(ref: Reference, name: str, rtol: float, atol: float, dtype: str) -> Expected:
    """The reference's `name` array (output, grad) prepared for comparison, kept on the reference."""
    key = (name, rtol, atol, dtype)
    prepared = ref.prepared.get(key)
    if prepared is None:
        prepared = ref.prepared[key] = Expected(getattr(ref, name), rtol, atol, dtype)
    return prepared  # type: ignore[no-any-return]


def diff_arrays(got: np.ndarray, exp: np.ndarray, rtol: float, atol: float, dtype: str) -> dict[str, Any]:
    """Statistics of got vs expected (same shape). Mismatch = outside tolerance or misplaced NaN/inf."""
    return diff_expected(got, Expected(exp, rtol, atol, dtype))


def diff_expected(got: np.ndarray, x: Expected) -> dict[str, Any]:
    """diff_arrays against a prepared expected side (its tolerances and dtype)."""
    g, e = np.asarray(got, dtype=np.float64), x.e
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.subtract(g, e)
        np.abs(absdiff, out=absdiff)
    top = absdiff.max() if g.size else 0.0  # NaN if any NaN, inf if any infinity
    if top == 0:  # identical and NaN-free: the common case, at a fraction of the cost
        return _stats(got, g, x, absdiff, None, 0.0, nan_bad=0, inf_bad=0)
    if np.isfinite(top):  # no NaN or infinity on either side
        scale = np.abs(e)
        # Nothing can be out of tolerance when even the largest difference is within atol.
        bad = None if top <= x.atol else absdiff > x.atol + x.rtol * scale
        return _stats(got, g, x, absdiff, bad, float(top), nan_bad=0, inf_bad=0, scale=scale)
    g_nan, e_nan = np.isnan(g), np.isnan(e)
    nan_bad = g_nan != e_nan
    inf_bad = (np.isinf(g) | np.isinf(e)) & ~(g_nan | e_nan) & (g != e)
    finite = np.isfinite(g) & np.isfinite(e)
    absdiff = np.where(finite, absdiff, 0.0)
    value_bad = finite & (absdiff > x.atol + x.rtol * np.abs(np.where(finite, e, 0.0)))
    return _stats(got, g, x, absdiff, nan_bad | inf_bad | value_bad, float(absdiff.max(initial=0.0)),
                  nan_bad=int(nan_bad.sum()), inf_bad=int(inf_bad.sum()), finite=finite)


def _stats(got: np.ndarray, g: np.ndarray, x: Expected, absdiff: np.ndarray, bad: np.ndarray | None, top: float,
           nan_bad: int, inf_bad: int, finite: np.ndarray | None = None,
           scale: np.ndarray | None = None) -> dict[str, Any]:
    """The DIFF record for `got` (`g` as float64); `absdiff` is 0 where a value is not finite,
    `top` its maximum, `bad` None when nothing is out of tolerance, `finite` None when every
    value is finite, `scale` |e| when known."""
    integer = x.dtype in INT_DTYPES
    mismatches = int(np.count_nonzero(bad)) if bad is not None else 0
    stats: dict[str, Any] = {"total": int(g.size), "mismatches": mismatches, "nan_mismatches": nan_bad,
                             "inf_mismatches": inf_bad, "max_abs": top, "max_rel": 0.0,
                             "max_ulp": None if integer else 0.0, "rtol": x.rtol, "atol": x.atol, "first": [],
                             "worst": None}
    if top > 0:
        scale = np.abs(x.e) if scale is None else scale
        usable = scale != 0 if finite is None else finite & (scale != 0)
        rel = np.divide(absdiff, scale, out=np.zeros_like(absdiff), where=usable)  # 0 where |e| is 0
        stats["max_rel"] = float(rel.max())
        if not integer:
            stats["max_ulp"] = _max_ulp(got, g, x, finite)
        stats["worst"] = _loc(np.unravel_index(int(absdiff.argmax()), g.shape), g, x.e)
    if mismatches:
        assert bad is not None
        stats["first"] = [_loc(i, g, x.e) for i in zip(*np.nonzero(bad))][:MAX_LOCATIONS]
    return stats


def _max_ulp(got: np.ndarray, g: np.ndarray, x: Expected, finite: np.ndarray | None) -> float:
    dt = np_dtype(x.dtype)
    src = got if getattr(got, "dtype", None) == dt else g  # already in the case dtype: no rounding to do
    with np.errstate(over="ignore", invalid="ignore"):  # float64 -> float16 of a huge value
        if finite is None:
            a, b = _ordered(src, dt), x.ordered
        else:
            a, b = _ordered(src[finite], dt), _ordered(x.e[finite], dt)
    if dt.itemsize < 8:
        d = np.subtract(a, b, dtype=np.int64)
        return float(max(d.max(initial=0), -d.min(initial=0)))
    # float64: a distance across zero can pass 2**63; add the two magnitudes in float instead.
    cross = (a < 0) != (b < 0)
    same = float(np.abs(a[~cross] - b[~cross]).max(initial=0))
    return max(same, float((np.abs(a[cross].astype(np.float64)) + np.abs(b[cross].astype(np.float64))).max(initial=0.0)))


def _loc(index: tuple[Any, ...], g: np.ndarray, e: np.ndarray) -> dict[str, Any]:
    idx = tuple(int(i) for i in index)
    return {"index": list(idx), "got": evidence.number(g[idx]), "expected": evidence.number(e[idx])}


def _expected_dtype(case: Case) -> str | None:
    """Pooling keeps the input dtype, except averages of integers, which frameworks differ on."""
    if case.input.dtype in INT_DTYPES and case.op not in MAX_OPS:
        return None
    return case.input.dtype


def compare(case: Case, ref: Reference, outcome: Any, x: np.ndarray | None = None) -> dict[str, Any]:
    """Verdict and statistics for one framework result (an adapters.base.Outcome). Given the
    case input `x`, a result whose output or indices differ also records the `window` of its
    worst element (harness.evidence), for the report's window view."""
    rtol, atol = tolerance(case)
    result: dict[str, Any] = {
        "shape": list(outcome.output.shape),
        "ref_shape": list(ref.output.shape),
        "dtype": outcome.dtype,
        "expected_dtype": _expected_dtype(case),
    }
    if tuple(outcome.output.shape) != ref.output.shape:
        return {**result, "verdict": "shape_mismatch",
                "reason": f"output shape {list(outcome.output.shape)}, reference {list(ref.output.shape)}"}
    out = diff_expected(outcome.output, expected(ref, "output", rtol, atol, case.input.dtype))
    result["output"] = out
    if ref.output.ndim == 4 and out["mismatches"]:  # where a 2-D output disagrees
        result["heatmap"] = heatmap(outcome.output, ref.output)
    verdict, reason = "pass", ""
    if result["expected_dtype"] and outcome.dtype != result["expected_dtype"]:
        verdict, reason = "dtype_mismatch", f"output dtype {outcome.dtype}, expected {result['expected_dtype']}"
    elif out["mismatches"]:
        verdict, reason = "numeric_mismatch", describe("output", out)
    if ref.indices is not None:
        verdict, reason = _part(result, "indices", outcome.indices, ref, 0.0, 0.0, "int64", verdict, reason)
    if ref.grad is not None:
        g_rtol, g_atol = TOLERANCES[case.input.dtype] if case.input.dtype not in INT_DTYPES else (0.0, 0.0)
        verdict, reason = _part(result, "grad", outcome.grad, ref, g_rtol, g_atol, case.input.dtype, verdict, reason)
    if x is not None and (out["mismatches"] or (result.get("indices") or {}).get("mismatches")):
        shown = evidence.window(case, x, ref, outcome.output, outcome.indices, rtol, atol)
        if shown is not None:
            result["window"] = shown
    return {**result, "verdict": verdict, "reason": reason}


def _part(result: dict[str, Any], name: str, got: np.ndarray | None, ref: Reference,
          rtol: float, atol: float, dtype: str, verdict: str, reason: str) -> tuple[str, str]:
    """Compare indices or gradients; they decide the verdict only if the output passed
    (a tie_break never hides a later mismatch)."""
    exp = ref.indices if name == "indices" else ref.grad
    assert exp is not None
    if got is None:
        result[name] = {"verdict": "missing"}
        return (verdict, reason) if verdict not in ("pass", "tie_break") else ("numeric_mismatch", f"{name}: not returned")
    if tuple(got.shape) != exp.shape:
        result[name] = {"verdict": "shape_mismatch", "shape": list(got.shape), "ref_shape": list(exp.shape)}
        if verdict in ("pass", "tie_break"):
            return "shape_mismatch", f"{name} shape {list(got.shape)}, reference {list(exp.shape)}"
        return verdict, reason
    stats = diff_expected(got, expected(ref, name, rtol, atol, dtype))
    stats["verdict"] = "numeric_mismatch" if stats["mismatches"] else "pass"
    if stats["mismatches"]:
        rule = tie_rule(name, np.asarray(got), ref, rtol, atol, dtype)
        if rule is not None:
            stats["verdict"], stats["tie_rule"] = "tie_break", rule
    result[name] = stats
    if stats["verdict"] == "numeric_mismatch" and verdict in ("pass", "tie_break"):
        return "numeric_mismatch", describe(name, stats)
    if stats["verdict"] == "tie_break" and verdict == "pass":
        return "tie_break", f"{name} follow the '{stats['tie_rule']}' tie rule (reference: first)"
    return verdict, reason


def tie_rule(name: str, got: np.ndarray, ref: Reference, rtol: float, atol: float, dtype: str) -> str | None:
    """Which tie rule a differing index/gradient follows, or None if it differs for another reason.

    Indices: 'last' when every index equals the last maximal tap; 'other' when every differing
    index still points at one of its window's tied maxima. Gradients: 'last', 'split' (equal
    shares) or 'all' (every tied tap gets the full upstream) when it equals that rule's
    gradient; 'other' when it differs only at tied positions and its total is the reference's.
    """
    if ref.tied is None or not ref.tied.any():
        return None
    if name == "indices":
        assert ref.indices is not None and ref.hits is not None and ref.flat_pos is not None
        last = ref.alt_indices.get("last")
        if last is not None and np.array_equal(got, last):
            return "last"
        differ = got != ref.indices
        flat = np.broadcast_to(ref.flat_pos, ref.hits.shape)
        is_tied_max = ((flat == got[..., None]) & ref.hits).any(axis=-1)
        return "other" if (is_tied_max | ~differ).all() and ref.tied[differ].all() else None
    for rule, alt in ref.alt_grads.items():
        if diff_arrays(got, alt, rtol, atol, dtype)["mismatches"] == 0:
            return rule
    assert ref.grad is not None and ref.tie_mask is not None
    with np.errstate(invalid="ignore"):
        bad = ~np.isclose(got.astype(np.float64), ref.grad, rtol=max(rtol, 1e-12), atol=max(atol, 1e-12))
    total_ok = np.isclose(got.astype(np.float64).sum(), ref.grad.sum(), rtol=max(rtol, 1e-9), atol=max(atol, 1e-9) * got.size)
    return "other" if not (bad & ~ref.tie_mask).any() and total_ok else None


HEATMAP_SIZE = 24


def heatmap(got: np.ndarray, exp: np.ndarray) -> list[list[float]]:
    """|got - ref| over the first (N, C) plane of a 2-D output, block-max reduced to at most
    HEATMAP_SIZE per side; misplaced NaN/inf count as infinite."""
    g, e = np.asarray(got[0, 0], np.float64), np.asarray(exp[0, 0], np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(g - e)
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    d = np.where(same, 0.0, np.where(np.isfinite(d), d, np.inf))
    bh, bw = (-(-n // HEATMAP_SIZE) for n in d.shape)
    h, w = -(-d.shape[0] // bh), -(-d.shape[1] // bw)
    padded = np.zeros((h * bh, w * bw))
    padded[: d.shape[0], : d.shape[1]] = d
    blocks = padded.reshape(h, bh, w, bw).max(axis=(1, 3))
    return [[float(v) if np.isfinite(v) else 1e308 for v in row] for row in blocks]


def describe(name: str, stats: dict[str, Any]) -> str:
    """One line in the spirit of numpy.testing: count, worst element, both values."""
    text = f"{name}: {stats['mismatches']}/{stats['total']} elements differ"
    if stats["nan_mismatches"]:
        text += f" ({stats['nan_mismatches']} NaN misplaced)"
    first = stats["first"][0] if stats["first"] else None
    if first:
        text += f"; first at {first['index']}: got {first['got']}, expected {first['expected']}"
    if stats["max_abs"]:
        text += f"; max abs {stats['max_abs']:.3g}, max rel {stats['max_rel']:.3g}"
    return text


def agreement(case: Case, outputs: dict[str, np.ndarray], exact: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Pairwise agreement between frameworks' outputs for one case; `exact` names the outputs
    known to equal the reference exactly (two of those agree without looking)."""
    rtol, atol = tolerance(case)
    labels = sorted(outputs)
    pairs = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            x, y = outputs[a], outputs[b]
            if x.shape != y.shape:
                pairs.append({"a": a, "b": b, "agree": False, "detail": f"shapes {list(x.shape)} vs {list(y.shape)}"})
                continue
            # Frameworks often return the very same values: then there is nothing to measure.
            within = 0.0 if (a in exact and b in exact) or np.array_equal(x, y) else _within(x, y, rtol, atol)
            if within is not None:
                pairs.append({"a": a, "b": b, "agree": True, "mismatches": 0, "max_abs": within, "detail": "agree"})
                continue
            stats = diff_arrays(x, y, rtol, atol, case.input.dtype)
            detail = "agree" if not stats["mismatches"] else describe("output", stats)
            pairs.append({"a": a, "b": b, "agree": not stats["mismatches"], "mismatches": stats["mismatches"],
                          "max_abs": stats["max_abs"], "detail": detail})
    return pairs


def _within(x: np.ndarray, y: np.ndarray, rtol: float, atol: float) -> float | None:
    """max |x - y| when every element is finite and within tolerance of y, else None (then
    diff_arrays says how they differ)."""
    g, e = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(g - e)
    top = float(d.max()) if d.size else 0.0
    if top == 0 or (np.isfinite(top) and not (d > atol + rtol * np.abs(e)).any()):
        return top
    return None
