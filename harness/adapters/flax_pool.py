"""Flax adapter: the `flax.linen` pooling functions (`max_pool`, `avg_pool`, `pool`), as a Flax
model calls them, on channels-last arrays, jitted, with gradients by `jax.vjp`.

The code that runs is the repro script: `source(case, plan, device)` writes plain JAX / Flax
code defining `pool(x_np, upstream)`, `execute` runs it once per text and calls it, `repro` hands
the same text out. Flax's own conventions, each a plan step that the script marks
(`# conversion N:`, harness/adapters/script.py) before the code that performs it:
- channels-last: NC... -> N...C and back, inside the jitted function;
- `strides` passed where they are not 1: Flax's default stride is 1, not the kernel size (PyTorch's);
- padding: (low, high) pairs per dim, or "SAME" / "VALID" as the author wrote them; max pools
  pad with the -inf init value, so padding never wins;
- `count_include_pad` as is (Flax's default True is PyTorch's). ceil mode: the after-pad grows
  so the partial windows exist; for a counted-padding average the declared pads are zeros put in
  front (so they count) and the overhang goes to Flax as uncounted padding (with no declared
  padding, no pad of zeros: count_include_pad=False alone);
- `jax_enable_x64` only for float64 / int64 inputs, which need it (JAX's default, off, is how
  Flax models run; under x64, `avg_pool(count_include_pad=False)` divides by a float64 count and
  returns float64 for a float32 input, so turning it on everywhere would report that for every
  such case instead of what a float32 Flax model computes).
Emulated with Flax's own `nn.pool`: divisor_override (window sums / divisor), Lp pooling (sums
of x**p, then the root), global pooling and evenly dividing adaptive pooling (one window).
Unsupported: dilation, argmax indices and unpooling, uneven adaptive bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import semantics
from harness.adapters import script
from harness.adapters.base import Outcome, Probe, jax_devices
from harness.plan import Note, Pad, Plan, Transpose, unsupported
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

    devices = jax_devices(jax)
    return Probe(versions={"flax": flax.__version__, "jax": jax.__version__}, devices=devices,
                 env={"jax_enable_x64": "per case: on for 64-bit inputs only (see flax_pool.py)"})


# ---------------------------------------------------------------- planning (no flax import)


def _tuple(v: Any) -> str:
    """Python literal of a tuple, with the one-element comma."""
    return repr(tuple(v))


def _into(case: Case, steps: script.Steps) -> list[str]:
    """The marked transpose of the input to channels-last, as Flax models hold data."""
    n = case.spatial_dims
    first, last = _NAMES[n]
    perm = (0, *range(2, 2 + n), 1)
    return steps.block(Transpose(perm, f"input {first} -> {last}"), f"x = jnp.transpose(x, {_tuple(perm)})")


def _back(case: Case, steps: script.Steps) -> list[str]:
    """The marked transpose of the output back to channels-first."""
    n = case.spatial_dims
    first, last = _NAMES[n]
    perm = (0, n + 1, *range(1, n + 1))
    return steps.block(Transpose(perm, f"output {last} -> {first}"), f"out = jnp.transpose(out, {_tuple(perm)})")


def _x64(case: Case, steps: script.Steps) -> list[str]:
    """The marked x64 setting the call runs under (`with jax.enable_x64(X64)`), whatever the
    process's own setting is."""
    if case.input.dtype in ("float64", "int64"):
        note = Note(f"jax_enable_x64=True for the call: a {case.input.dtype} input needs it")
    else:
        note = Note("jax_enable_x64=False (JAX's default, as Flax models run)")
    return steps.block(note, f"X64 = {case.input.dtype in ('float64', 'int64')}")


def plan(case: Case, backend: str | None = None) -> Plan:
    p = case.params
    if any(d > 1 for d in p.dilation):
        return unsupported("flax.linen pooling has no dilation")
    if case.op == "max_unpool" or p.return_indices:
        return unsupported("flax.linen pooling returns no argmax indices (so no unpooling either)")
    steps = script.Steps()
    x64 = _x64(case, steps)
    body = _into(case, steps)
    if case.op in GLOBAL_OPS or case.op in ADAPTIVE_OPS:
        return _plan_whole(case, steps, x64, body)
    body.append("strides = None  # flax.linen's default: stride 1 in every dim")
    if any(s != 1 for s in p.stride):
        body += steps.block(Note(f"strides={list(p.stride)} passed: Flax's default stride is 1, not the kernel size"),
                            f"strides = {_tuple(p.stride)}")
    pads = semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation,
                                    p.ceil_mode) if p.ceil_mode else p.padding
    declared: Any = p.padding_mode.upper() if p.padding_mode in ("same", "valid") else p.padding
    body.append(f"padding = {declared!r}")
    if pads != p.padding:
        body += steps.block(Note(f"ceil_mode: after-pads {[a for _, a in p.padding]} -> {[a for _, a in pads]} so "
                                 "the partial last windows exist"), f"padding = {pads!r}")
    padding = declared if pads == p.padding else pads
    window = f"window_shape={_tuple(p.kernel_size)}, strides={_tuple(p.stride)}"
    code_window = f"window_shape={_tuple(p.kernel_size)}, strides=strides, padding=padding"
    if case.op == "max_pool":
        call = f"nn.max_pool(x, {window}, padding={padding!r})"
        return _done(case, steps, x64, [*body, f"out = nn.max_pool(x, {code_window})"], "native", call)
    if case.op == "lp_pool":
        q = float(p.norm_type or 2.0)
        power = f"x ** {int(q)}" if q.is_integer() else f"x ** {q!r}"
        call = f"nn.pool({power}, 0., jax.lax.add, {window}, padding={padding!r}) ** (1 / {q!r})"
        body += steps.block(Note(f"lp: window sums of x**{q:g} by nn.pool (zero padding), then **(1/{q:g}); no abs, "
                                 "as PyTorch"), f"out = nn.pool({power}, 0., jax.lax.add, {code_window}) ** (1 / {q!r})")
        return _done(case, steps, x64, body, "emulated", call, "Flax has no Lp pooling")
    if p.divisor_override is not None:
        call = f"nn.pool(x, 0., jax.lax.add, {window}, padding={padding!r}) / {p.divisor_override}"
        body += steps.block(Note(f"window sums by nn.pool, divided by divisor_override={p.divisor_override}"),
                            f"out = nn.pool(x, 0., jax.lax.add, {code_window}) / {p.divisor_override}")
        return _done(case, steps, x64, body, "emulated", call, "flax.linen.avg_pool has no divisor_override")
    body.append(f"count_include_pad = {p.count_include_pad}  # as the case gives it: Flax's default True is PyTorch's")
    average = f"out = nn.avg_pool(x, {code_window}, count_include_pad=count_include_pad)"
    if not (p.count_include_pad and pads != p.padding):
        call = f"nn.avg_pool(x, {window}, padding={padding!r}, count_include_pad={p.count_include_pad})"
        return _done(case, steps, x64, [*body, average], "native", call)
    lines, x = _counted_in_front(case, steps, pads)
    call = f"nn.avg_pool({x}, {window}, padding={_overhang(p.padding, pads)!r}, count_include_pad=False)"
    return _done(case, steps, x64, [*body, *lines, average], "emulated", call,
                 "Flax's count_include_pad=True would also count the ceil-mode overhang")


def _overhang(declared: tuple[tuple[int, int], ...], pads: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """The pads Flax gets once the declared ones are in front: the ceil-mode overhang."""
    return tuple((0, pa - min(a, pa)) for (_, a), (_, pa) in zip(declared, pads))


def _counted_in_front(case: Case, steps: script.Steps, pads: tuple[tuple[int, int], ...]) -> tuple[list[str], str]:
    """A counted-padding average in ceil mode: avg_pool(count_include_pad=True) would divide by the
    whole window, overhang included, so the declared pads go in front as zeros (counted) and Flax
    pads only the rest (not counted). The marked lines, and the input as the call shows it."""
    front = tuple((b, min(a, pa)) for (b, a), (_, pa) in zip(case.params.padding, pads))
    uncounted = "count_include_pad = False"
    if not any(b or a for b, a in front):  # no declared padding to count, and no pad of zeros
        return steps.block(Note("count_include_pad=False: the only padding is the ceil-mode overhang, which PyTorch "
                                "does not count"), uncounted), "x"
    lines = steps.block(Pad(front, 0.0, "zeros in front so the declared padding counts in the divisor; the ceil-mode "
                                        "overhang goes to Flax as padding it does not count"),
                        f"front = {front!r}", "x = jnp.pad(x, ((0, 0), *front, (0, 0)))",
                        "padding = tuple((b - fb, a - fa) for (b, a), (fb, fa) in zip(padding, front))", uncounted)
    return lines, f"jnp.pad(x, ((0, 0), *{front!r}, (0, 0)))"


def _done(case: Case, steps: script.Steps, x64: list[str], body: list[str], mode: str, call: str,
          reason: str = "") -> Plan:
    """The plan, its output transposed back to channels-first (a marked step, the last)."""
    lines = [*body, *_back(case, steps)]
    return Plan(mode, call, tuple(steps.steps), reason=reason, args={"x64": tuple(x64), "lines": tuple(lines)})


def _plan_whole(case: Case, steps: script.Steps, x64: list[str], body: list[str]) -> Plan:
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
    body = [*body, f"out = {call}"]
    if case.op in GLOBAL_OPS and not p.keepdims:
        body += steps.block(Note("(N, 1.., C) -> (N, C): keepdims=False"),
                            f"out = out.reshape(out.shape[0], out.shape[-1])  # {list(spatial)} window -> (N, C)")
        return Plan("emulated", call, tuple(steps.steps), reason=reason, args={"x64": tuple(x64), "lines": tuple(body)})
    return _done(case, steps, x64, body, "emulated", call, reason)


# ---------------------------------------------------------------- the script that runs


def _indent(lines: tuple[str, ...]) -> str:
    return "\n".join(f"    {line}".rstrip() for line in lines)


def source(case: Case, plan_: Plan, device: str = "cpu") -> str:
    """Plain Flax code defining `pool(x_np, upstream=None) -> (out, None, grad)`."""
    x64 = "\n".join(plan_.args["x64"]).rstrip()
    return f'''import numpy as np
import jax
import jax.numpy as jnp
import flax.linen as nn

device = jax.devices({'gpu' if device == 'gpu' else 'cpu'!r})[0]
{x64}


def forward(x):
{_indent(plan_.args["lines"])}
    return out


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
    return script.pool_outcome(source(case, plan_, device), x, upstream)

