"""The float64 reference: every op, 1-3 spatial dims, vectorised with NumPy.

All windowed ops go through one gather: for each output element, the input positions of its
taps (semantics.window_taps / adaptive_taps) and two masks, "reads real input" and "lies in
the padded extent". Max takes the largest real tap (padding behaves as -inf, NaN propagates);
average divides the sum of real taps by the divisor the masks give; lp sums x**p over real
taps. Semantics in prose: docs/semantics.md.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import semantics
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, Case, InputSpec, PoolParams, Source


@dataclass
class Windows:
    """Gathered taps: values (N, C, *out, T), masks and flat plane positions (*out, T)."""

    values: np.ndarray
    valid: np.ndarray
    extent: np.ndarray
    flat_pos: np.ndarray
    out_shape: tuple[int, ...]
    full: bool  # every tap of every window reads real input (valid is all true)
    counts: tuple[np.ndarray, np.ndarray]  # float taps per window: real ones, those in the padded extent


@dataclass
class Reference:
    output: np.ndarray  # float64, the framework-visible shape
    indices: np.ndarray | None = None  # int64 flat per-plane arg-max
    grad: np.ndarray | None = None  # float64, input shape
    tied: np.ndarray | None = None  # bool (N, C, *out): windows whose maximum is tied
    # Max ops with ties only: what other tie rules would give, for tie-aware comparison.
    alt_indices: dict[str, np.ndarray] = field(default_factory=dict)  # rule -> indices
    alt_grads: dict[str, np.ndarray] = field(default_factory=dict)  # rule -> gradient
    hits: np.ndarray | None = None  # bool (N, C, *out, T): taps equal to the window maximum
    tie_mask: np.ndarray | None = None  # bool, input shape: positions that are a tied maximum
    flat_pos: np.ndarray | None = None  # (*out, T) flat plane position of each tap
    prepared: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)  # compare.expected's

    @property
    def nbytes(self) -> int:
        """What its own arrays hold (flat_pos is a table shared by every case of a signature)."""
        arrays = [self.output, self.indices, self.grad, self.tied, self.hits, self.tie_mask,
                  *self.alt_indices.values(), *self.alt_grads.values()]
        return sum(a.nbytes for a in arrays if a is not None)


def taps_for(case: Case) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per-dim tap positions, real-input masks and padded-extent masks for a case."""
    spatial, p = case.spatial_shape, case.params
    pos, valid, extent = [], [], []
    for d, length in enumerate(spatial):
        if case.op in ADAPTIVE_OPS or case.op in GLOBAL_OPS:
            out = p.output_size[d] if case.op in ADAPTIVE_OPS and p.output_size else 1
            t, m = semantics.adaptive_taps(length, out)
            e = m
        else:
            k, s, pad, dil = p.kernel_size[d], p.stride[d], p.padding[d], p.dilation[d]
            out = semantics.pooled_length(length, k, s, pad, dil, p.ceil_mode)
            t, m, e = semantics.window_taps(length, k, s, pad, dil, out)
        pos.append(t)
        valid.append(m)
        extent.append(e)
    return pos, valid, extent


def _grid(parts: list[np.ndarray], n: int, d: int) -> np.ndarray:
    """Place a (out_d, k_d) table on axes (d, n + d) of a 2n-dim broadcast grid."""
    shape = [1] * (2 * n)
    shape[d], shape[n + d] = parts[d].shape
    return parts[d].reshape(shape)


@functools.lru_cache(maxsize=256)
def _tables(op: str, spatial: tuple[int, ...], params: PoolParams) -> tuple[Any, ...]:
    """Everything about the windows that does not depend on the data (suites repeat shapes).
    Returned arrays are read-only: callers share them."""
    case = Case(id="", op=op, input=InputSpec((1, 1, *spatial), "float64"), params=params, source=Source("", 0))
    pos, valid, extent = taps_for(case)
    n = len(pos)
    clipped = [np.clip(p, 0, L - 1) for p, L in zip(pos, spatial)]
    index = tuple(_grid(clipped, n, d) for d in range(n))
    out_shape = tuple(p.shape[0] for p in pos)
    full = out_shape + tuple(p.shape[1] for p in pos)

    def flatten(parts: list[np.ndarray]) -> np.ndarray:
        grid = functools.reduce(np.logical_and, (_grid(parts, n, d) for d in range(n)))
        return np.broadcast_to(grid, full).reshape(out_shape + (-1,))

    plane_strides = [math.prod(spatial[d + 1 :]) for d in range(n)]
    flat = functools.reduce(np.add, (index[d] * plane_strides[d] for d in range(n)))
    tables = (flatten(valid), flatten(extent), np.broadcast_to(flat, full).reshape(out_shape + (-1,)))
    counts = (tables[0].sum(axis=-1).astype(np.float64), tables[1].sum(axis=-1).astype(np.float64))
    for t in (*tables, *counts):
        t.flags.writeable = False
    return (index, out_shape, *tables, bool(tables[0].all()), counts)


def gather(case: Case, x: np.ndarray) -> Windows:
    index, out_shape, valid, extent, flat_pos, full, counts = _tables(case.op, tuple(x.shape[2:]), case.params)
    values = x[(slice(None), slice(None), *index)]
    return Windows(values=values.reshape(x.shape[:2] + out_shape + (-1,)), valid=valid, extent=extent,
                   flat_pos=flat_pos, out_shape=out_shape, full=full, counts=counts)


def compute(case: Case, x: np.ndarray, upstream: np.ndarray | None = None) -> Reference:
    """Reference output (and indices, and the gradient of sum(out * upstream) if given)."""
    x64 = np.asarray(x, dtype=np.float64)
    w = gather(case, x64)
    op = case.op
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if op in ("max_pool", "adaptive_max_pool", "global_max_pool"):
            ref = _max(w, detail=case.params.return_indices or upstream is not None)
        elif op == "max_unpool":
            return _unpool(case, _max(w, detail=True))
        elif op == "lp_pool":
            ref = _lp(case, w)
        else:
            ref = _avg(case, w)
        if upstream is not None:
            ref.grad = _grad(case, w, ref, np.asarray(upstream, dtype=np.float64), x64.shape)
    if op in GLOBAL_OPS and not case.params.keepdims:
        ref.output = ref.output.reshape(ref.output.shape[:2])
    if not case.params.return_indices:
        ref.indices = None
    return ref


def _max(w: Windows, detail: bool) -> Reference:
    """The window maxima; with `detail`, also the arg-max, the tied taps and the other tie rules
    (needed only when indices or gradients are compared)."""
    vals = w.values if w.full else np.where(w.valid, w.values, -np.inf)
    out = vals.max(axis=-1)
    if not detail:
        return Reference(output=out)
    hit = w.valid & ((vals == out[..., None]) | (np.isnan(vals) & np.isnan(out)[..., None]))
    # Tie rule: the first maximal tap in window scan order (row-major over kernel offsets).
    ref = Reference(output=out, indices=_pick(w, hit, "first"), tied=hit.sum(axis=-1) > 1,
                    hits=hit, flat_pos=w.flat_pos)
    if ref.tied is not None and ref.tied.any():
        ref.alt_indices["last"] = _pick(w, hit, "last")
    return ref


def _unpool(case: Case, pooled: Reference) -> Reference:
    """Scatter the pooled maxima to their flat indices in an output plane of output_size."""
    assert pooled.indices is not None and case.params.output_size is not None
    n, c = pooled.output.shape[:2]
    size = math.prod(case.params.output_size)
    out = np.zeros((n * c, size))
    idx = pooled.indices.reshape(n * c, -1)
    rows = np.repeat(np.arange(n * c), idx.shape[1])
    keep = idx.ravel() >= 0
    out[rows[keep], idx.ravel()[keep]] = pooled.output.reshape(n * c, -1).ravel()[keep]
    return Reference(output=out.reshape(n, c, *case.params.output_size))


def _onehot(hit: np.ndarray, rule: str) -> np.ndarray:
    """Per-tap share of a window's gradient under a tie rule: first, last, split or all."""
    if rule == "split":
        return hit / np.maximum(hit.sum(axis=-1, keepdims=True), 1)
    if rule == "all":
        return hit.astype(np.float64)
    t = hit.shape[-1]
    pos = hit.argmax(axis=-1) if rule == "first" else t - 1 - hit[..., ::-1].argmax(axis=-1)
    share = np.zeros(hit.shape)
    np.put_along_axis(share, pos[..., None], hit.any(axis=-1, keepdims=True).astype(np.float64), axis=-1)
    return share


def _pick(w: Windows, hit: np.ndarray, rule: str) -> np.ndarray:
    """Flat plane index of the tap a tie rule picks (-1 for a window with no real tap)."""
    flat = np.broadcast_to(w.flat_pos, hit.shape)
    chosen = (_onehot(hit, rule) > 0) & hit
    idx = np.where(chosen, flat, 0).sum(axis=-1)
    return np.where(hit.any(axis=-1), idx, -1).astype(np.int64)


def divisor_of(case: Case, real: Any, extent: Any) -> Any:
    """The average divisor rule, for a window's counts of real taps and of taps in the padded
    extent (numbers or arrays of them): divisor_override, else the extent (count_include_pad)
    or the real taps."""
    p = case.params
    if case.op == "avg_pool" and p.divisor_override is not None:
        return p.divisor_override
    return extent if case.op == "avg_pool" and p.count_include_pad else real


def divisor(case: Case, w: Windows) -> np.ndarray:
    """Average divisor per output element."""
    return np.broadcast_to(np.asarray(divisor_of(case, *w.counts), dtype=np.float64), w.out_shape)


def _avg(case: Case, w: Windows) -> Reference:
    total = (w.values if w.full else np.where(w.valid, w.values, 0.0)).sum(axis=-1)
    return Reference(output=total / divisor(case, w))


def _lp(case: Case, w: Windows) -> Reference:
    p = float(case.params.norm_type or 2.0)
    total = np.where(w.valid, np.power(w.values, p), 0.0).sum(axis=-1)
    return Reference(output=np.power(total, 1.0 / p))


def _grad(case: Case, w: Windows, ref: Reference, up: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Scatter each window's share of the upstream gradient back onto the input."""
    up = up.reshape(ref.output.shape[:2] + w.out_shape)
    if case.op in ("max_pool", "adaptive_max_pool", "global_max_pool"):
        assert ref.hits is not None
        if ref.tied is not None and ref.tied.any():
            for rule in ("last", "split", "all"):
                ref.alt_grads[rule] = _scatter(w, up[..., None] * _onehot(ref.hits, rule), shape)
            ref.tie_mask = _scatter(w, (ref.hits & ref.tied[..., None]).astype(np.float64), shape) > 0
        share = up[..., None] * _onehot(ref.hits, "first")
    elif case.op == "lp_pool":
        p = float(case.params.norm_type or 2.0)
        outer = np.power(ref.output, 1.0 - p)[..., None]
        share = np.where(w.valid, up[..., None] * np.power(w.values, p - 1.0) * outer, 0.0)
    else:
        share = np.where(w.valid, (up / divisor(case, w))[..., None], 0.0)
    return _scatter(w, share, shape)


def _scatter(w: Windows, share: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Add each tap's share onto the input position it reads."""
    n, c = shape[:2]
    plane = math.prod(shape[2:])
    offsets = (np.arange(n * c) * plane).reshape(n, c, *([1] * (share.ndim - 2)))
    target = np.broadcast_to(w.flat_pos, share.shape) + offsets
    mask = np.broadcast_to(w.valid, share.shape)
    grad = np.bincount(target[mask], weights=share[mask], minlength=n * c * plane)
    return grad.reshape(shape)


def output_shape(case: Case) -> tuple[int, ...]:
    """The reference output shape, from the semantics alone (no data needed)."""
    n, c = case.input.shape[:2]
    if case.op in GLOBAL_OPS:
        return (n, c, *([1] * case.spatial_dims)) if case.params.keepdims else (n, c)
    if case.op == "max_unpool":
        assert case.params.output_size is not None
        return (n, c, *case.params.output_size)
    pos, _, _ = taps_for(case)
    return (n, c, *(p.shape[0] for p in pos))
