"""JAX adapter: jax.lax.reduce_window on channels-first arrays (window (1, 1, *kernel)), no transpose.

reduce_window takes explicit (before, after) pads, strides and window dilation, so max / avg / lp
pooling are native; what lax lacks is emulated and recorded as plan steps:
- ceil_mode: the after-pad grows to semantics.ceil_after_pad (the init value never wins a max
  and adds nothing to a sum; the average's divisor never counts the overhang);
- average: window sums divided by the same reduce_window over a mask of the counted positions;
- global pooling: jnp.max / jnp.mean over the spatial axes;
- adaptive pooling: one window k = s = L/out when every dim divides, else static per-bin slices;
- return_indices: a variadic reduce_window over (values, flat-index iota), first maximal tap wins.

Compiled functions are cached per signature (shape, dtype, parameters, device): one jit each.
"""

from __future__ import annotations

import functools
import os
from typing import Any, NamedTuple

import numpy as np

from harness import semantics
from harness.adapters.base import Outcome, Probe, Stopwatch
from harness.plan import Note, Plan, unsupported
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, INT_DTYPES, WINDOWED_OPS, Case

_jax: Any = None
_compiles = 0
_OPS = WINDOWED_OPS + GLOBAL_OPS + ADAPTIVE_OPS + ("max_unpool",)
_NO_INDEX = np.iinfo(np.int32).max  # index of a padding tap: loses every tie, mapped to -1 at the end


def _import() -> Any:
    global _jax
    if _jax is None:
        import jax

        # float64 / int64 cases need x64; without it JAX silently computes them in 32 bits.
        jax.config.update("jax_enable_x64", True)
        _jax = jax
    return _jax


def probe() -> Probe:
    jax = _import()
    import jaxlib

    devices = {"cpu": "cpu"}
    try:
        devices["gpu"] = jax.devices("gpu")[0].device_kind
    except RuntimeError:  # no GPU backend in this jaxlib / on this machine
        pass
    return Probe(versions={"jax": jax.__version__, "jaxlib": jaxlib.__version__}, devices=devices,
                 env={"jax_enable_x64": str(jax.config.jax_enable_x64),
                      "XLA_FLAGS": os.environ.get("XLA_FLAGS") or "unset"})


def compile_count() -> int:
    """Traces so far (each jit signature traces, and compiles, once)."""
    return _compiles


# ---------------------------------------------------------------- planning (no jax import)


def _pads(case: Case) -> tuple[tuple[int, int], ...]:
    """reduce_window pads: the case's, with the after-pad set so ceil mode yields its windows."""
    p = case.params
    if not p.ceil_mode:
        return p.padding  # reduce_window's floor count is pooled_length's in floor mode
    return semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation, True)


def _call(init: str, fn: str, window: tuple[int, ...], strides: tuple[int, ...],
          pads: tuple[tuple[int, int], ...], dil: tuple[int, ...], x: str = "x") -> str:
    full = ((0, 0), (0, 0), *pads)
    return (f"jax.lax.reduce_window({x}, {init}, jax.lax.{fn}, {(1, 1, *window)}, {(1, 1, *strides)}, "
            f"{full}, window_dilation={(1, 1, *dil)})")


_ARGMAX = Note("indices: variadic jax.lax.reduce_window over (x, flat-index iota of the unpadded plane); "
               "larger value wins, NaN counts as largest, ties keep the smaller index, padding index -1")


def plan(case: Case, backend: str | None = None) -> Plan:
    n, p, dtype = case.spatial_dims, case.params, case.input.dtype
    low = "iinfo.min" if dtype in INT_DTYPES else "-inf"
    if case.op not in _OPS:  # e.g. max_unpool: lax has none and this adapter does not emulate it yet
        return unsupported(f"{case.op}: no jax.lax op, and the JAX adapter has no emulation for it")
    if case.op in GLOBAL_OPS:
        fn = "max" if case.op == "global_max_pool" else "mean"
        axes = tuple(range(2, 2 + n))
        return Plan("emulated", f"jnp.{fn}(x, axis={axes}, keepdims={p.keepdims})",
                    reason="lax has no global pooling op; reduced over the spatial axes",
                    args={"kind": "global"})
    if case.op in ADAPTIVE_OPS:
        return _plan_adaptive(case, low)
    pads = _pads(case)
    if case.op == "max_unpool":
        scatter = Note(f"scatter: zeros of {list(p.output_size or ())} per plane, .at[flat index].set(max), "
                       "as max_unpool does")
        return Plan("emulated", _call(low, "max", p.kernel_size, p.stride, pads, p.dilation) + " -> scatter",
                    (_ARGMAX, scatter), reason="JAX has no argmax pooling or unpooling",
                    args={"kind": "window", "pads": pads})
    steps: list[Any] = []
    if pads != p.padding:
        why = {"max_pool": f"padded with {low}, it never wins", "lp_pool": "zeros add nothing",
               "avg_pool": "zeros add nothing and the divisor never counts them"}[case.op]
        steps.append(Note(f"ceil_mode: after-pads {[a for _, a in p.padding]} -> {[a for _, a in pads]} "
                          f"so the partial last windows exist ({why})"))
    window = (p.kernel_size, p.stride, pads, p.dilation)
    args = {"kind": "window", "pads": pads}
    if case.op == "max_pool":
        call = _call(low, "max", *window)
        reasons = []
        if p.return_indices:
            steps.append(_ARGMAX)
            reasons.append("JAX has no argmax pooling")
        if case.grad and any(d > 1 for d in p.dilation):
            if not p.return_indices:
                steps.append(_ARGMAX)
            steps.append(Note("gradient: upstream scattered onto the arg-max index of each window"))
            reasons.append("JAX has no VJP for max reduce_window with window_dilation (select_and_gather)")
        return Plan("emulated" if reasons else "native", call, tuple(steps), reason="; ".join(reasons), args=args)
    if case.op == "lp_pool":
        q = p.norm_type
        steps.append(Note(f"lp: window sums of x**{q:g} (zero padding), then **(1/{q:g}); no abs, as PyTorch"))
        return Plan("native", _call("0", "add", *window, x=f"x**{q:g}") + f" ** (1/{q:g})", tuple(steps),
                    args=args)
    if p.divisor_override is not None:
        steps.append(Note(f"divide by divisor_override={p.divisor_override}"))
    else:
        counted = "padded extent (ceil overhang excluded)" if p.count_include_pad else "real input"
        steps.append(Note(f"divide by the same reduce_window (add) over a mask of ones on the {counted} "
                          f"(count_include_pad={p.count_include_pad})"))
    return Plan("native", _call("0", "add", *window) + " / divisor", tuple(steps), args=args)


def _plan_adaptive(case: Case, low: str) -> Plan:
    p, spatial = case.params, case.spatial_shape
    size = p.output_size or spatial
    is_max = case.op == "adaptive_max_pool"
    extra = (_ARGMAX,) if is_max and p.return_indices else ()
    if all(semantics.adaptive_is_uniform(L, o) for L, o in zip(spatial, size)):
        k = tuple(L // o for L, o in zip(spatial, size))
        call = _call(low if is_max else "0", "max" if is_max else "add", k, k, tuple((0, 0) for _ in k),
                     tuple(1 for _ in k))
        return Plan("emulated", call + ("" if is_max else f" / {int(np.prod(k))}"), extra,
                    reason="lax has no adaptive pooling; every dim divides, so one window k = s = L/out",
                    args={"kind": "adaptive_uniform", "k": k})
    bins = [semantics.adaptive_bins(L, o) for L, o in zip(spatial, size)]
    ranges = [list(zip(b[:o], b[o:])) for b, o in zip(bins, size)]
    note = Note(f"adaptive bins [floor(i*L/out), ceil((i+1)*L/out)) per dim {ranges}: each bin a static slice "
                "reduced by jax.lax.reduce_window over its whole width, last dim first, concatenated"
                + ("" if is_max else "; divided by the bin sizes"))
    return Plan("emulated", "jnp.concatenate([jax.lax.reduce_window(x[bin], ...) for bin in bins]) per dim",
                (note, *extra), reason="lax has no adaptive pooling and the bins are uneven",
                args={"kind": "adaptive_bins", "bins": tuple(tuple(r) for r in ranges)})


# ---------------------------------------------------------------- execution


class _Sig(NamedTuple):
    """Everything a compiled function depends on (hashable: the compile-cache key)."""

    op: str
    kind: str
    shape: tuple[int, ...]
    dtype: str
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]  # as reduce_window gets them (ceil-mode after-pad included)
    extent: tuple[tuple[int, int], ...]  # the case's own padding: what count_include_pad counts
    dilation: tuple[int, ...]
    count_include_pad: bool
    divisor_override: int | None
    norm_type: float | None
    keepdims: bool
    bins: tuple[tuple[tuple[int, int], ...], ...]
    indices: bool
    grad: bool
    device: str
    unpool: tuple[int, ...] | None = None


def _signature(case: Case, args: dict[str, Any], x: np.ndarray, device: str, grad: bool) -> _Sig:
    p = case.params
    kind = args["kind"]
    kernel, stride, pads, dil = p.kernel_size, p.stride, args.get("pads", ()), p.dilation
    if kind == "adaptive_uniform":
        kernel = stride = args["k"]
        pads, dil = tuple((0, 0) for _ in kernel), tuple(1 for _ in kernel)
    return _Sig(case.op, kind, tuple(x.shape), x.dtype.name, kernel, stride, pads, p.padding, dil,
                p.count_include_pad, p.divisor_override, p.norm_type, p.keepdims, args.get("bins", ()),
                p.return_indices, grad, device, p.output_size if case.op == "max_unpool" else None)


def _rw(x: Any, init: Any, op: Any, window: tuple[int, ...], strides: tuple[int, ...],
        pads: tuple[tuple[int, int], ...], dil: tuple[int, ...]) -> Any:
    return _jax.lax.reduce_window(x, init, op, (1, 1, *window), (1, 1, *strides), ((0, 0), (0, 0), *pads),
                                  window_dilation=(1, 1, *dil))


def _low(dtype: Any) -> Any:
    # NumPy scalars, not jnp arrays: reduce_window recognises a concrete identity as its max/add
    # monoid, which is what makes it differentiable (a traced init takes the generic path).
    dtype = np.dtype(dtype)
    return np.array(np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf, dtype)


def _first_max(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    """Arg-max reducer: a total order (value, NaN on top, then smaller index), so it is associative
    and commutative as XLA requires, and matches reference._max's first maximal tap."""
    jnp = _jax.numpy
    (av, ai), (bv, bi) = a, b
    a_nan, b_nan = jnp.isnan(av), jnp.isnan(bv)
    same = (av == bv) | (a_nan & b_nan)
    take_a = (av > bv) | (a_nan & ~b_nan) | (same & (ai < bi))
    return jnp.where(take_a, av, bv), jnp.where(take_a, ai, bi)


def _reduce(sig: _Sig, x: Any, mode: str) -> Any:
    """Windowed reduction of x (or of (x, iota) for mode 'argmax'): max, add or argmax."""
    jnp, lax = _jax.numpy, _jax.lax
    if mode == "argmax":
        init: Any = (_low(x[0].dtype), np.array(_NO_INDEX, np.int32))
        op: Any = _first_max
    else:
        init, op = (_low(x.dtype), lax.max) if mode == "max" else (np.array(0, x.dtype), lax.add)
    if sig.kind != "adaptive_bins":
        return _rw(x, init, op, sig.kernel, sig.stride, sig.pads, sig.dilation)
    n = len(sig.bins)
    parts = x if isinstance(x, tuple) else (x,)
    # Last dim first: chained max reductions then pick, like one window, the first tap row-major.
    for d in reversed(range(n)):
        pieces = []
        for start, end in sig.bins[d]:
            sl = tuple(lax.slice_in_dim(a, start, end, axis=2 + d) for a in parts)
            window = tuple(end - start if e == d else 1 for e in range(n))
            ones = tuple(1 for _ in range(n))
            r = _rw(sl if mode == "argmax" else sl[0], init, op, window, ones, tuple((0, 0) for _ in ones), ones)
            pieces.append(r if isinstance(r, tuple) else (r,))
        parts = tuple(jnp.concatenate([pc[i] for pc in pieces], axis=2 + d) for i in range(len(parts)))
    return parts if mode == "argmax" else parts[0]


def _divisor(sig: _Sig, dtype: Any) -> Any:
    jnp = _jax.numpy
    if sig.op == "avg_pool" and sig.divisor_override is not None:
        return jnp.array(sig.divisor_override, dtype)
    if sig.kind == "adaptive_bins":  # bins are separable: the count is the product of widths
        widths = [np.array([e - s for s, e in b]) for b in sig.bins]
        return jnp.asarray(functools.reduce(np.multiply.outer, widths), dtype)
    ones = jnp.ones((1, 1, *sig.shape[2:]), dtype)
    if sig.op == "avg_pool" and sig.count_include_pad:
        # Ones over [-before, L + after), zeros over any ceil-mode overhang beyond that.
        mask = jnp.asarray(semantics.count_mask(sig.shape[2:], sig.extent, sig.pads, True), dtype)[None, None]
        return _rw(mask, np.array(0, dtype), _jax.lax.add, sig.kernel, sig.stride,
                   tuple((0, 0) for _ in sig.pads), sig.dilation)
    return _reduce(sig, ones, "add")


def _forward(sig: _Sig, x: Any) -> Any:
    jnp = _jax.numpy
    axes = tuple(range(2, len(sig.shape)))
    if sig.op == "global_max_pool":
        return jnp.max(x, axis=axes, keepdims=sig.keepdims)
    if sig.op == "global_avg_pool":
        return jnp.mean(x, axis=axes, keepdims=sig.keepdims)
    if sig.op in ("max_pool", "adaptive_max_pool"):
        return _reduce(sig, x, "max")
    if sig.op == "lp_pool":
        q = float(sig.norm_type or 2.0)
        # An integral p goes through integer_pow: exact, and defined for negative x.
        powered = jnp.power(x, int(q)) if q.is_integer() else jnp.power(x, q)
        return jnp.power(_reduce(sig, powered, "add"), 1.0 / q)
    # Integer sums stay integers; true division gives JAX's float (float32 for int32).
    return jnp.true_divide(_reduce(sig, x, "add"), _divisor(sig, x.dtype))


def _unpool(sig: _Sig, x: Any) -> Any:
    """Max-pool with indices, then scatter each maximum to its flat index in the output plane."""
    jnp = _jax.numpy
    assert sig.unpool is not None
    plane = int(np.prod(sig.shape[2:]))
    iota = jnp.arange(plane, dtype=jnp.int32).reshape(sig.shape[2:])
    values, idx = _reduce(sig, (x, jnp.broadcast_to(iota, sig.shape)), "argmax")
    rows = sig.shape[0] * sig.shape[1]
    size = int(np.prod(sig.unpool))
    flat = idx.reshape(rows, -1)
    out = jnp.zeros((rows, size), x.dtype).at[jnp.arange(rows)[:, None], flat].set(values.reshape(rows, -1), mode="drop")
    return out.reshape(*sig.shape[:2], *sig.unpool)


@functools.lru_cache(maxsize=1024)
def _build(sig: _Sig) -> Any:
    jax, jnp = _jax, _jax.numpy

    def run(x: Any, up: Any) -> tuple[Any, Any, Any]:
        global _compiles
        _compiles += 1  # Python runs only while jit traces a new signature
        if sig.unpool is not None:
            return _unpool(sig, x), None, None
        fwd = functools.partial(_forward, sig)
        plane = int(np.prod(sig.shape[2:]))
        scatter = sig.grad and sig.op == "max_pool" and any(d > 1 for d in sig.dilation)
        idx = None
        if sig.indices or scatter:
            iota = jnp.arange(plane, dtype=jnp.int32).reshape(sig.shape[2:])
            _, idx = _reduce(sig, (x, jnp.broadcast_to(iota, sig.shape)), "argmax")
        grad = None
        if scatter and idx is not None:  # JAX has no VJP for this; route upstream by the arg-max
            out = fwd(x)
            rows = jnp.arange(idx.shape[0] * idx.shape[1])[:, None]
            flat = idx.reshape(rows.shape[0], -1)  # padding-only windows (_NO_INDEX) are dropped
            grad = jnp.zeros((rows.shape[0], plane), x.dtype).at[rows, flat].add(
                up.reshape(flat.shape), mode="drop").reshape(sig.shape)
        elif up is None:
            out = fwd(x)
        else:
            out, pullback = jax.vjp(fwd, x)
            (grad,) = pullback(up)
        if idx is not None:
            idx = jnp.where(idx == _NO_INDEX, -1, idx) if sig.indices else None
        return out, idx, grad

    return jax.jit(run)


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    jax = _import()
    fn = _build(_signature(case, plan_.args, x, device, upstream is not None))
    # The first call of a signature includes tracing and compiling: that is JAX's own cost, and
    # running it twice to time the second call would double the work of a suite of distinct shapes.
    # The NumPy arrays go to the jitted function as they are, in the device's context: jit puts
    # them on that device itself, in their own dtype (x64 is on), at a fraction of the cost of a
    # jax.device_put from Python; that transfer is counted as JAX's time. (jax.default_device
    # applies to "JAX operations and jit'd function calls":
    # https://docs.jax.dev/en/latest/_autosummary/jax.default_device.html)
    clock = Stopwatch()
    with jax.default_device(jax.devices(device)[0]), clock.framework():
        out, idx, grad = jax.block_until_ready(fn(x, upstream))
    return Outcome(
        output=np.asarray(out),
        indices=None if idx is None else np.asarray(idx).astype(np.int64),
        grad=None if grad is None else np.asarray(grad),
        dtype=str(out.dtype),
        seconds=clock.seconds,
    )


def repro(case: Case, plan_: Plan) -> str:
    """Plain JAX code reproducing this result from a NumPy `x_np` (windowed ops; other modes
    describe their emulation in comments)."""
    lines = ["import jax", "import jax.numpy as jnp", "jax.config.update('jax_enable_x64', True)",
             "x = jnp.asarray(x_np)"]
    p, kind = case.params, plan_.args.get("kind")
    if kind == "window" and case.op in ("max_pool", "avg_pool") and not p.return_indices:
        low = "jnp.iinfo(x.dtype).min" if case.input.dtype in INT_DTYPES else "-jnp.inf"
        pads = ((0, 0), (0, 0), *plan_.args["pads"])
        rw = (f"jax.lax.reduce_window({{x}}, {{init}}, jax.lax.{{op}}, {(1, 1, *p.kernel_size)}, "
              f"{(1, 1, *p.stride)}, {pads}, window_dilation={(1, 1, *p.dilation)})")
        if case.op == "max_pool":
            lines.append("out = " + rw.format(x="x", init=low, op="max"))
        else:
            lines.append("sums = " + rw.format(x="x", init="0", op="add"))
            if p.divisor_override is not None:
                lines.append(f"out = sums / {p.divisor_override}")
            else:
                if p.count_include_pad:
                    extent = tuple((b, min(a, pa)) for (b, a), (_, pa) in zip(p.padding, plan_.args["pads"]))
                    rest = tuple((0, pa - a) for (_, a), (_, pa) in zip(extent, plan_.args["pads"]))
                    lines.append(f"mask = jnp.pad(jnp.pad(jnp.ones((1, 1, *x.shape[2:])), ((0, 0), (0, 0), *{extent}), "
                                 f"constant_values=1), ((0, 0), (0, 0), *{rest}))")
                    lines.append("counts = " + rw.format(x="mask", init="0.", op="add").replace(
                        str(pads), str(((0, 0),) * (2 + case.spatial_dims))))
                else:
                    lines.append("counts = " + rw.format(x="jnp.ones((1, 1, *x.shape[2:]))", init="0.", op="add"))
                lines.append("out = sums / counts")
    else:
        lines.append(f"# {plan_.mode}: " + "; ".join(plan_.conversions()))
        lines.append(f"out = ...  # {plan_.call}")
    lines.append("print(out)")
    return "\n".join(lines)
