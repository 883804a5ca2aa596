"""JAX adapter: jax.lax.reduce_window on channels-first arrays (window (1, 1, *kernel)), no transpose.

reduce_window takes explicit (before, after) pads, strides and window dilation, so max / avg / lp
pooling are native; what lax lacks is emulated and recorded as plan steps:
- ceil_mode: the after-pad grows to semantics.ceil_after_pad (the init value never wins a max
  and adds nothing to a sum; the average's divisor never counts the overhang);
- average: window sums divided by the same reduce_window over a mask of the counted positions;
- global pooling: jnp.max / jnp.mean over the spatial axes;
- adaptive pooling: one window k = s = L/out when every dim divides, else static per-bin slices;
- return_indices: a variadic reduce_window over (values, flat-index iota), first maximal tap wins.

The plan's code (harness/adapters/script.py) is what runs, under jax.jit, and what the repro
shows; its building blocks are in jax_code.py. Compiled functions are cached per plan and input
signature (shape, dtype, device): one jit each, and one more for a case's gradient.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from harness import semantics
from harness.adapters import jax_code, script
from harness.adapters.base import Outcome, Probe, Stopwatch, jax_devices
from harness.plan import Note, Plan, unsupported
from harness.snippets import count_mask, source
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, INT_DTYPES, WINDOWED_OPS, Case

_jax: Any = None
_compiles = 0
_OPS = WINDOWED_OPS + GLOBAL_OPS + ADAPTIVE_OPS + ("max_unpool",)


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

    devices = jax_devices(jax)
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
    if case.op not in _OPS:
        return unsupported(f"{case.op}: no jax.lax op, and the JAX adapter has no emulation for it")
    if case.op in GLOBAL_OPS:
        fn = "max" if case.op == "global_max_pool" else "mean"
        call = f"jnp.{fn}(x, axis={tuple(range(2, 2 + n))}, keepdims={p.keepdims})"
        return Plan("emulated", call, reason="lax has no global pooling op; reduced over the spatial axes",
                    code=_code([f"return {call}"]))
    if case.op in ADAPTIVE_OPS:
        return _plan_adaptive(case, low)
    pads = _pads(case)
    window = (p.kernel_size, p.stride, pads, p.dilation)
    steps = script.Steps()
    # The window's parameters; ceil mode grows the after-pads (a marked step of its own).
    body = [f"window, strides, dilation = {tuple(p.kernel_size)!r}, {tuple(p.stride)!r}, {tuple(p.dilation)!r}",
            f"pads = {tuple(p.padding)!r}"]
    if pads != p.padding:
        why = {"max_pool": f"padded with {low}, it never wins", "lp_pool": "zeros add nothing",
               "avg_pool": "zeros add nothing and the divisor never counts them", "max_unpool": "it never wins"}[case.op]
        body += steps.block(Note(f"ceil_mode: after-pads {[a for _, a in p.padding]} -> {[a for _, a in pads]} "
                                 f"so the partial last windows exist ({why})"), f"pads = {tuple(pads)!r}")
    if case.op == "max_unpool":
        size = int(np.prod(p.output_size or ()))
        body += steps.block(_ARGMAX, "values, idx = argmax_windows(x, window, strides, pads, dilation)")
        body += steps.block(Note(f"scatter: zeros of {list(p.output_size or ())} per plane, .at[flat index].set(max), "
                                 "as max_unpool does"), f"out = scatter_to_plane(values, idx, {size}, 'set')")
        body.append(f"return out.reshape(*x.shape[:2], *{p.output_size!r})")
        return Plan("emulated", _call(low, "max", *window) + " -> scatter", tuple(steps.steps),
                    reason="JAX has no argmax pooling or unpooling", code=_code(body, _ARGMAX_HELPERS))
    if case.op == "max_pool":
        return _plan_max(case, steps, body, window, low)
    if case.op == "lp_pool":
        q = float(p.norm_type or 2.0)
        # An integral p goes through integer_pow: exact, and defined for negative x.
        power = f"jnp.power(x, {int(q)})" if q.is_integer() else f"jnp.power(x, {q!r})"
        body += steps.block(Note(f"lp: window sums of x**{q:g} (zero padding), then **(1/{q:g}); no abs, as PyTorch"),
                            f"sums = reduce_windows({power}, np.array(0, x.dtype), jax.lax.add, window, strides, pads, "
                            "dilation)", f"out = jnp.power(sums, {1.0 / q!r})")
        body.append("return out")
        return Plan("native", _call("0", "add", *window, x=f"x**{q:g}") + f" ** (1/{q:g})", tuple(steps.steps),
                    code=_code(body, (jax_code.reduce_windows,)))
    body.append("sums = reduce_windows(x, np.array(0, x.dtype), jax.lax.add, window, strides, pads, dilation)")
    helpers: tuple[Any, ...] = (jax_code.reduce_windows,)
    if p.divisor_override is not None:
        body += steps.block(Note(f"divide by divisor_override={p.divisor_override}"),
                            f"divisor = jnp.array({p.divisor_override!r}, x.dtype)")
    else:
        counted = "padded extent (ceil overhang excluded)" if p.count_include_pad else "real input"
        note = Note(f"divide by the same reduce_window (add) over a mask of ones on the {counted} "
                    f"(count_include_pad={p.count_include_pad})")
        if p.count_include_pad:  # ones over [-before, L + after), zeros over any ceil-mode overhang
            helpers += (count_mask,)
            body += steps.block(note, f"mask = jnp.asarray(count_mask({case.spatial_shape!r}, {p.padding!r}, pads, True), "
                                      "x.dtype)[None, None]",
                                "divisor = reduce_windows(mask, np.array(0, x.dtype), jax.lax.add, window, strides, "
                                "((0, 0),) * len(pads), dilation)")
        else:
            body += steps.block(note, "divisor = reduce_windows(jnp.ones((1, 1, *x.shape[2:]), x.dtype), "
                                      "np.array(0, x.dtype), jax.lax.add, window, strides, pads, dilation)")
    # Integer sums stay integers; true division gives JAX's float (float32 for int32).
    body.append("return jnp.true_divide(sums, divisor)")
    return Plan("native", _call("0", "add", *window) + " / divisor", tuple(steps.steps), code=_code(body, helpers))


_ARGMAX_HELPERS = (jax_code.reduce_windows, jax_code.lowest, jax_code.first_max, jax_code.argmax_windows,
                   jax_code.scatter_to_plane)


def _args(window: Any, strides: Any, pads: Any, dilation: Any) -> str:
    return f"{tuple(window)!r}, {tuple(strides)!r}, {tuple(pads)!r}, {tuple(dilation)!r}"


def _plan_max(case: Case, steps: script.Steps, body: list[str], window: tuple[Any, ...], low: str) -> Plan:
    p = case.params
    call = _call(low, "max", *window)
    reasons = []
    body.append("out = reduce_windows(x, lowest(x.dtype), jax.lax.max, window, strides, pads, dilation)")
    helpers: tuple[Any, ...] = (jax_code.reduce_windows, jax_code.lowest)
    grad: list[str] = []
    if p.return_indices:
        reasons.append("JAX has no argmax pooling")
        helpers = _ARGMAX_HELPERS
        body += steps.block(_ARGMAX, "_, idx = argmax_windows(x, window, strides, pads, dilation)",
                            "idx = jnp.where(idx == NO_INDEX, -1, idx)")
        body.append("return out, idx")
    else:
        body.append("return out")
    if case.grad and any(d > 1 for d in p.dilation):
        reasons.append("JAX has no VJP for max reduce_window with window_dilation (select_and_gather)")
        helpers = _ARGMAX_HELPERS
        grad = [line for line in body if line.startswith(("window, ", "pads = "))]
        if not p.return_indices:
            grad += steps.block(_ARGMAX, "_, idx = argmax_windows(x, window, strides, pads, dilation)")
        else:
            grad.append("_, idx = argmax_windows(x, window, strides, pads, dilation)")
        grad += steps.block(Note("gradient: upstream scattered onto the arg-max index of each window"),
                            "grad = scatter_to_plane(up, idx, int(np.prod(x.shape[2:])), 'add').reshape(x.shape)")
        grad.append("return grad")
    return Plan("emulated" if reasons else "native", call, tuple(steps.steps), reason="; ".join(reasons),
                code=_code(body, helpers, grad))


def _code(body: list[str], helpers: tuple[Any, ...] = (), grad: list[str] | None = None) -> str:
    """The plan's script: pool(x) on a channels-first array, run under jax.jit (and pool_grad
    where JAX's own VJP is missing)."""
    lines = ["import numpy as np", "import jax", "import jax.numpy as jnp"]
    if helpers:
        lines.append("from typing import Any")
    lines += ["", "jax.config.update('jax_enable_x64', True)  # float64 / int64 cases: without it JAX computes in 32 bits"]
    if jax_code.argmax_windows in helpers:
        lines += ["NO_INDEX = 2**31 - 1  # index of a padding tap: loses every tie, becomes -1 at the end"]
    for fn in helpers:
        lines += ["", "", source(fn).rstrip()]
    lines += ["", "", "def pool(x):", *(f"    {b}" for b in body)]
    if grad:
        lines += ["", "", "def pool_grad(x, up):", *(f"    {b}" for b in grad)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _plan_adaptive(case: Case, low: str) -> Plan:
    p, spatial = case.params, case.spatial_shape
    size = p.output_size or spatial
    is_max = case.op == "adaptive_max_pool"
    indices = is_max and p.return_indices
    steps = script.Steps()
    helpers: tuple[Any, ...] = _ARGMAX_HELPERS if indices else (jax_code.reduce_windows, jax_code.lowest)
    if all(semantics.adaptive_is_uniform(L, o) for L, o in zip(spatial, size)):
        k = tuple(L // o for L, o in zip(spatial, size))
        window = (k, k, tuple((0, 0) for _ in k), tuple(1 for _ in k))
        call = _call(low if is_max else "0", "max" if is_max else "add", *window)
        if is_max:
            body = [f"out = reduce_windows(x, lowest(x.dtype), jax.lax.max, {_args(*window)})"]
            if indices:
                body += steps.block(_ARGMAX, f"_, idx = argmax_windows(x, {_args(*window)})",
                                    "idx = jnp.where(idx == NO_INDEX, -1, idx)")
                body.append("return out, idx")
            else:
                body.append("return out")
        else:
            body = [f"sums = reduce_windows(x, np.array(0, x.dtype), jax.lax.add, {_args(*window)})",
                    f"divisor = reduce_windows(jnp.ones((1, 1, *x.shape[2:]), x.dtype), np.array(0, x.dtype), "
                    f"jax.lax.add, {_args(*window)})",
                    "return jnp.true_divide(sums, divisor)"]
        return Plan("emulated", call + ("" if is_max else f" / {int(np.prod(k))}"), tuple(steps.steps),
                    reason="lax has no adaptive pooling; every dim divides, so one window k = s = L/out",
                    code=_code(body, helpers))
    bins = [semantics.adaptive_bins(L, o) for L, o in zip(spatial, size)]
    ranges = tuple(tuple(zip(b[:o], b[o:])) for b, o in zip(bins, size))
    note = Note(f"adaptive bins [floor(i*L/out), ceil((i+1)*L/out)) per dim {[list(r) for r in ranges]}: each bin "
                "a static slice reduced by jax.lax.reduce_window over its whole width, last dim first, concatenated"
                + ("" if is_max else "; divided by the bin sizes"))
    helpers = (*helpers, jax_code.reduce_bins)
    if is_max:
        body = steps.block(note, f"(out,) = reduce_bins((x,), lowest(x.dtype), jax.lax.max, {ranges!r})")
        if indices:
            body += steps.block(
                _ARGMAX,
                "iota = jnp.broadcast_to(jnp.arange(int(np.prod(x.shape[2:])), dtype=jnp.int32).reshape(x.shape[2:]), "
                "x.shape)",
                "x = jax.lax.stop_gradient(x)  # indices carry no gradient (nor has a variadic reduce_window one)",
                f"_, idx = reduce_bins((x, iota), (lowest(x.dtype), np.array(NO_INDEX, np.int32)), first_max, {ranges!r})",
                "idx = jnp.where(idx == NO_INDEX, -1, idx)")
            body.append("return out, idx")
        else:
            body.append("return out")
    else:
        widths = [tuple(e - s for s, e in r) for r in ranges]
        body = steps.block(note, f"(sums,) = reduce_bins((x,), np.array(0, x.dtype), jax.lax.add, {ranges!r})",
                           f"divisor = jnp.asarray(functools.reduce(np.multiply.outer, [np.array(w) for w in "
                           f"{widths!r}]), x.dtype)  # separable bins: a bin's size is the product of its widths")
        body.append("return jnp.true_divide(sums, divisor)")
    code = _code(body, helpers)
    if "functools." in code:
        code = "import functools\n" + code
    return Plan("emulated", "jnp.concatenate([jax.lax.reduce_window(x[bin], ...) for bin in bins]) per dim",
                tuple(steps.steps), reason="lax has no adaptive pooling and the bins are uneven", code=code)


# ---------------------------------------------------------------- execution


@functools.lru_cache(maxsize=1024)
def _compiled(code: str) -> tuple[Any, Any]:
    """jit(pool) and jit(gradient of sum(pool(x) * up)) for a plan's code; each traces (and
    compiles) once per input signature. The output always comes from jit(pool), the very function
    the repro runs, so the two agree bit for bit."""
    jax = _import()
    scope = script.namespace(code)
    pool, pool_grad = scope["pool"], scope.get("pool_grad")

    def forward(x: Any) -> Any:
        global _compiles
        _compiles += 1  # Python runs only while jit traces a new signature
        return pool(x)

    def gradient(x: Any, up: Any) -> Any:
        global _compiles
        _compiles += 1
        if pool_grad is not None:  # JAX has no VJP for this one: the plan routes it itself
            return pool_grad(x, up)
        _, pullback = jax.vjp(lambda t: _values(pool(t)), x)
        return pullback(up)[0]

    return jax.jit(forward), jax.jit(gradient)


def _values(result: Any) -> Any:
    """The output of pool(): its first item when it also returns indices."""
    return result[0] if isinstance(result, tuple) else result


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    jax = _import()
    forward, gradient = _compiled(plan_.code)
    # The first call of a signature includes tracing and compiling: that is JAX's own cost, and
    # running it twice to time the second call would double the work of a suite of distinct shapes.
    # The NumPy arrays go to the jitted function as they are, in the device's context: jit puts
    # them on that device itself, in their own dtype (x64 is on), at a fraction of the cost of a
    # jax.device_put from Python; that transfer is counted as JAX's time. (jax.default_device
    # applies to "JAX operations and jit'd function calls":
    # https://docs.jax.dev/en/latest/_autosummary/jax.default_device.html)
    clock = Stopwatch()
    with jax.default_device(jax.devices(device)[0]), clock.framework():
        result = jax.block_until_ready(forward(x))
        grad = None if upstream is None else jax.block_until_ready(gradient(x, upstream))
    out, idx = result if isinstance(result, tuple) else (result, None)
    return Outcome(
        output=np.asarray(out),
        indices=None if idx is None else np.asarray(idx).astype(np.int64),
        grad=None if grad is None else np.asarray(grad),
        dtype=str(out.dtype),
        seconds=clock.seconds,
    )


def repro(case: Case, plan_: Plan) -> str:
    """The plan's code, jitted and run on the case input `x_np` (CPU)."""
    if "return out, idx" in plan_.code:
        call = ("out, indices = jax.jit(pool)(x_np)\n"
                "out, indices = np.asarray(out), np.asarray(indices).astype(np.int64)")
    else:
        call = "out = np.asarray(jax.jit(pool)(x_np))"
    return script.repro(plan_, call)
