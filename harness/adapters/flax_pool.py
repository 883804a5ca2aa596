"""Flax adapter: the `flax.linen` pooling functions (`max_pool`, `avg_pool`, `pool`), as a Flax
model calls them, on channels-last arrays, jitted, with gradients by `jax.vjp`.

The code that runs is the repro script: `source(case, plan, device)` writes plain JAX / Flax
code defining `pool(x_np, upstream)`, `execute` runs it once per text and calls it, `repro` hands
the same text out. Flax's own conventions, each a logged conversion:
- channels-last: NC... -> N...C and back, inside the jitted function;
- `strides` always passed: Flax's default stride is 1, not the kernel size (PyTorch's);
- padding: (low, high) pairs per dim, or "SAME" / "VALID" as the author wrote them; max pools
  pad with the -inf init value, so padding never wins;
- `count_include_pad` as is (Flax's default True is PyTorch's). ceil mode: the after-pad grows
  so the partial windows exist; for a counted-padding average the declared pads are zeros put in
  front (so they count) and the overhang goes to Flax as uncounted padding;
- `jax_enable_x64` only for float64 / int64 inputs, which need it (JAX's default, off, is how
  Flax models run; under x64, `avg_pool(count_include_pad=False)` divides by a float64 count and
  returns float64 for a float32 input, so turning it on everywhere would report that for every
  such case instead of what a float32 Flax model computes).
Emulated with Flax's own `nn.pool`: divisor_override (window sums / divisor), Lp pooling (sums
of x**p, then the root), global pooling and evenly dividing adaptive pooling (one window).
Unsupported: dilation, argmax indices and unpooling, uneven adaptive bins.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from harness import semantics
from harness.adapters.base import Outcome, Probe
from harness.adapters.script import compiled
from harness.plan import Note, Pad, Plan, Step, Transpose, unsupported
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, Case

_flax: Any = None
_NAMES = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def _import() -> Any:
    global _flax
    if _flax is None:
        import flax

        _flax = flax
    return _flax


def probe() -> Probe:
    flax = _import()
    import jax

    devices = {"cpu": "cpu"}
    try:
        devices["gpu"] = jax.devices("gpu")[0].device_kind
    except RuntimeError:  # no GPU backend in this jaxlib / on this machine
        pass
    return Probe(versions={"flax": flax.__version__, "jax": jax.__version__}, devices=devices,
                 env={"jax_enable_x64": "per case: on for 64-bit inputs only (see flax_pool.py)"})


# ---------------------------------------------------------------- planning (no flax import)


def _tuple(v: Any) -> str:
    """Python literal of a tuple, with the one-element comma."""
    return repr(tuple(v))


def _layout(case: Case) -> tuple[Step, Step]:
    n = case.spatial_dims
    first, last = _NAMES[n]
    return (Transpose((0, *range(2, 2 + n), 1), f"input {first} -> {last}"),
            Transpose((0, n + 1, *range(1, n + 1)), f"output {last} -> {first}"))


def _x64(case: Case) -> Note:
    if case.input.dtype in ("float64", "int64"):
        return Note(f"jax_enable_x64=True for the call: a {case.input.dtype} input needs it")
    return Note("jax_enable_x64=False (JAX's default, as Flax models run)")


def plan(case: Case, backend: str | None = None) -> Plan:
    p = case.params
    if any(d > 1 for d in p.dilation):
        return unsupported("flax.linen pooling has no dilation")
    if case.op == "max_unpool" or p.return_indices:
        return unsupported("flax.linen pooling returns no argmax indices (so no unpooling either)")
    into, back = _layout(case)
    if case.op in GLOBAL_OPS or case.op in ADAPTIVE_OPS:
        return _plan_whole(case, into, back)
    stride = Note(f"strides={list(p.stride)} passed: Flax's default stride is 1, not the kernel size")
    steps: list[Step] = [into, _x64(case), stride]
    pads = semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation,
                                    p.ceil_mode) if p.ceil_mode else p.padding
    if pads != p.padding:
        steps.append(Note(f"ceil_mode: after-pads {[a for _, a in p.padding]} -> {[a for _, a in pads]} so the "
                          "partial last windows exist"))
    padding: Any = p.padding_mode.upper() if p.padding_mode in ("same", "valid") and pads == p.padding else pads
    window = f"window_shape={_tuple(p.kernel_size)}, strides={_tuple(p.stride)}"
    if case.op == "max_pool":
        call = f"nn.max_pool(x, {window}, padding={padding!r})"
        return Plan("native", call, (*steps, back), args={"lines": (f"out = {call}",)})
    if case.op == "lp_pool":
        q = float(p.norm_type or 2.0)
        power = f"x ** {int(q)}" if q.is_integer() else f"x ** {q!r}"
        call = f"nn.pool({power}, 0., jax.lax.add, {window}, padding={padding!r}) ** (1 / {q!r})"
        steps.append(Note(f"lp: window sums of x**{q:g} by nn.pool (zero padding), then **(1/{q:g}); no abs, as PyTorch"))
        return Plan("emulated", call, (*steps, back), reason="Flax has no Lp pooling",
                    args={"lines": (f"out = {call}",)})
    if p.divisor_override is not None:
        call = f"nn.pool(x, 0., jax.lax.add, {window}, padding={padding!r}) / {p.divisor_override}"
        steps.append(Note(f"window sums by nn.pool, divided by divisor_override={p.divisor_override}"))
        return Plan("emulated", call, (*steps, back), reason="flax.linen.avg_pool has no divisor_override",
                    args={"lines": (f"out = {call}",)})
    if p.count_include_pad and pads != p.padding:
        # avg_pool(count_include_pad=True) would divide by the whole window, overhang included.
        front_pads = tuple((b, min(a, pa)) for (b, a), (_, pa) in zip(p.padding, pads))
        overhang = tuple((0, pa - a) for (_, a), (_, pa) in zip(front_pads, pads))
        front = f"jnp.pad(x, ((0, 0), *{front_pads!r}, (0, 0)))"
        call = f"nn.avg_pool({front}, {window}, padding={overhang!r}, count_include_pad=False)"
        steps.append(Pad(front_pads, 0.0, "zeros in front so the declared padding counts in the divisor; the "
                                         "ceil-mode overhang goes to Flax as padding it does not count"))
        return Plan("emulated", call, (*steps, back),
                    reason="Flax's count_include_pad=True would also count the ceil-mode overhang",
                    args={"lines": (f"out = {call}",)})
    call = f"nn.avg_pool(x, {window}, padding={padding!r}, count_include_pad={p.count_include_pad})"
    return Plan("native", call, (*steps, back), args={"lines": (f"out = {call}",)})


def _plan_whole(case: Case, into: Step, back: Step) -> Plan:
    """Global and adaptive pooling as one Flax window (k = s = L / out)."""
    p, spatial = case.params, case.spatial_shape
    is_max = "max" in case.op
    fn = "nn.max_pool" if is_max else "nn.avg_pool"
    if case.op in GLOBAL_OPS:
        k = spatial
        reason = "Flax has no global pooling: one window over the whole plane"
    else:
        size = p.output_size or spatial
        if not all(semantics.adaptive_is_uniform(L, o) for L, o in zip(spatial, size)):
            return unsupported("Flax has no adaptive pooling, and these bins are uneven (no single window)")
        k = tuple(L // o for L, o in zip(spatial, size))
        reason = "Flax has no adaptive pooling; every dim divides, so one window k = s = L/out"
    call = f"{fn}(x, window_shape={_tuple(k)}, strides={_tuple(k)})"
    lines = [f"out = {call}"]
    steps: list[Step] = [into, _x64(case)]
    if case.op in GLOBAL_OPS and not p.keepdims:
        lines.append(f"out = out.reshape(out.shape[0], out.shape[-1])  # {list(spatial)} window -> (N, C)")
        steps.append(Note("(N, 1.., C) -> (N, C): keepdims=False"))
    else:
        steps.append(back)
    return Plan("emulated", call, tuple(steps), reason=reason, args={"lines": tuple(lines)})


# ---------------------------------------------------------------- the script that runs


def source(case: Case, plan_: Plan, device: str = "cpu") -> str:
    """Plain Flax code defining `pool(x_np, upstream=None) -> (out, None, grad)`."""
    n = case.spatial_dims
    body = "\n".join(f"    {line}" for line in plan_.args["lines"])
    # The plan's last step says whether the output goes back to channels-first.
    back = (f"    out = jnp.transpose(out, {_tuple((0, n + 1, *range(1, n + 1)))})\n"
            if plan_.steps[-1] == _layout(case)[1] else "")
    return f'''import numpy as np
import jax
import jax.numpy as jnp
import flax.linen as nn

X64 = {case.input.dtype in ("float64", "int64")}  # jax_enable_x64: 64-bit inputs need it; JAX's default is off
device = jax.devices({'gpu' if device == 'gpu' else 'cpu'!r})[0]


def forward(x):
    x = jnp.transpose(x, {_tuple((0, *range(2, 2 + n), 1))})  # channels-last, as Flax models hold data
{body}
{back}    return out


forward_jit = jax.jit(forward)


@jax.jit
def forward_and_grad(x, upstream):
    out, pullback = jax.vjp(forward, x)
    return out, pullback(upstream)[0]


def pool(x_np, upstream=None):
    with jax.enable_x64(X64):
        x = jax.device_put(x_np, device)
        if upstream is None:
            return np.asarray(forward_jit(x)), None, None
        out, grad = forward_and_grad(x, jax.device_put(upstream, device))
        return np.asarray(out), None, np.asarray(grad)
'''


def repro(case: Case, plan_: Plan) -> str:
    return source(case, plan_) + "\n\nout, _, _ = pool(x_np)\nprint(out)\n"


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    _import()
    scope, _ = compiled(source(case, plan_, device))
    # The first call of a signature traces and compiles (jit): Flax's own cost, as for JAX.
    start = time.perf_counter()
    out, _, grad = scope["pool"](x, upstream)
    seconds = time.perf_counter() - start
    return Outcome(output=out, grad=grad, dtype=str(out.dtype), seconds=seconds)

