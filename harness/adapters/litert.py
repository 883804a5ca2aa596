"""LiteRT (TFLite) adapter: the TensorFlow pooling call (what Keras runs on TF) converted with
`tf.lite.TFLiteConverter` from a concrete function and run in the LiteRT interpreter
(`ai_edge_litert.interpreter.Interpreter`), as a user ships a model to a phone.

Two registry entries run this module: `litert` (backend "xnnpack") with the interpreter's
default resolver, where the XNNPACK delegate takes the ops it supports, and `litert-builtin`
(backend "builtin") with `OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`, the builtin kernels
alone: they differ on NaN and -inf.

The code that runs is the repro script: `source(case, plan)` writes the tf.function, the
conversion, the interpreter and `pool(x_np)`; `execute` runs it once per text (one conversion
per signature, timed apart as `convert_seconds`) and calls `pool`. Each plan step is a block of
that script, marked `# conversion N:` (harness/adapters/script.py), numbered in the script's
order: the model's pad and divisor or root, the interpreter's resolver, the NumPy transposes
around `invoke`. After conversion the model's operators are read back from the interpreter and
reported as executed conversions (the PAD ops the converter kept, the delegate: not plan steps,
so not marked); a plan's PAD that is missing from the model is an error.

LiteRT's pooling builtins are 2-D, NHWC, float32 (quantized aside), 'SAME' / 'VALID' only, no
dilation: 1-D runs through the converter's RESHAPE to 2-D; explicit / asymmetric padding and ceil
mode are an explicit tf.pad in front (-inf for max, zeros for average) and 'VALID'; averages whose
divisor is not the whole window are window sums divided by the same pooling of a constant mask
(folded by the converter); Lp pooling is sums of x**p (L2_POOL_2D is a root mean square, and the
converter emits it from no TF op). Unsupported: 3-D (MaxPool3D / AvgPool3D need TF Select ops,
not in the LiteRT interpreter), other dtypes, dilation, indices, gradients (inference only).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from harness import semantics
from harness.adapters import script
from harness.adapters.base import Outcome, Probe
from harness.plan import Note, Pad, Plan, Transpose, unsupported
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, Case

_NAMES = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC")}
RESOLVERS = {"xnnpack": "AUTO", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES"}
_modules: Any = None


def _import() -> Any:
    global _modules
    if _modules is None:
        import ai_edge_litert
        import tensorflow as tf

        _modules = (tf, ai_edge_litert)
    return _modules


def probe() -> Probe:
    tf, litert = _import()
    from importlib.metadata import version

    return Probe(versions={"ai-edge-litert": version("ai-edge-litert"), "tensorflow": tf.__version__},
                 devices={"cpu": "cpu"})  # the pip interpreter has no GPU delegate


# ---------------------------------------------------------------- planning (no TF import)


def _layout(case: Case) -> tuple[Transpose, Transpose]:
    n = case.spatial_dims
    first, last = _NAMES[n]
    return (Transpose((0, *range(2, 2 + n), 1), f"input {first} -> {last}, in NumPy before set_tensor"),
            Transpose((0, n + 1, *range(1, n + 1)), f"output {last} -> {first}, in NumPy"))


def _floor_is_ceil(case: Case) -> bool:
    p = case.params
    return all(semantics.pooled_length(L, k, s, pad, 1, True) == semantics.pooled_length(L, k, s, pad, 1, False)
               for L, k, s, pad in zip(case.spatial_shape, p.kernel_size, p.stride, p.padding))


def _tf_padding(case: Case) -> str | None:
    """'VALID' or 'SAME' when TF's own padding gives the canonical windows and divisors."""
    p = case.params
    if (p.ceil_mode and not _floor_is_ceil(case)) or (case.op != "max_pool" and p.divisor_override is not None):
        return None
    if all(b == a == 0 for b, a in p.padding) and case.op != "lp_pool":
        return "VALID"
    same = tuple(semantics.same_padding(L, k, s, 1) for L, k, s in zip(case.spatial_shape, p.kernel_size, p.stride))
    # TF's 'SAME' average divides by the real taps only, i.e. count_include_pad=False.
    if p.padding == same and (case.op == "max_pool" or (case.op == "avg_pool" and not p.count_include_pad)):
        return "SAME"
    return None


def plan(case: Case, backend: str | None = None) -> Plan:
    """The plan and its steps, in the order the script performs them: the model's own (a pad in
    front, the emulated divisor or root), the interpreter's kernels, the transposes around it."""
    p, n = case.params, case.spatial_dims
    if case.grad:
        return unsupported("LiteRT runs inference only: no gradients")
    if case.input.dtype != "float32":
        return unsupported(f"LiteRT's pooling kernels take float32 (and quantized int8 / uint8 / int16): the "
                           f"converter refuses TF's pooling of {case.input.dtype} (it needs TF Select ops)")
    if n == 3:
        return unsupported("LiteRT has no 3-D pooling: MaxPool3D / AvgPool3D convert only as TF Select ops, "
                           "which the LiteRT interpreter does not have")
    if any(d > 1 for d in p.dilation):
        return unsupported("LiteRT pooling has no dilation")
    if case.op == "max_unpool" or p.return_indices:
        return unsupported("LiteRT pooling returns no argmax indices (so no unpooling either)")
    steps = script.Steps()
    model = _plan(case, steps)
    if not model.supported:
        return model
    resolver = RESOLVERS[backend or "xnnpack"]
    kernels = Note(f"interpreter: OpResolverType.{resolver}"
                   + (" (its default: the XNNPACK delegate)" if resolver == "AUTO" else " (builtin kernels only)"))
    into, back = _layout(case)
    setup = steps.block(kernels, f"resolver = OpResolverType.{resolver}")
    lines = ["x = x_np", *steps.block(into, f"x = np.ascontiguousarray(np.transpose(x, {into.perm}))"),
             'interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)', "interpreter.invoke()",
             'out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])']
    if not (case.op == "global_max_pool" or case.op == "global_avg_pool") or p.keepdims:
        lines += steps.block(back, f"out = np.transpose(out, {back.perm})")
    # The resolver goes with the plan: execute and repro build the same interpreter.
    return replace(model, steps=tuple(steps.steps),
                   args={**model.args, "resolver": resolver, "setup": tuple(setup), "pool": tuple(lines)})


def _plan(case: Case, steps: script.Steps) -> Plan:
    """The converted model's plan: its call, and in args["lines"] the body of the tf.function."""
    p, n = case.params, case.spatial_dims
    axes = tuple(range(1, 1 + n))
    if case.op in GLOBAL_OPS:
        fn = "reduce_max" if case.op == "global_max_pool" else "reduce_mean"
        call = f"tf.{fn}(x, axis={list(axes)}, keepdims={p.keepdims})"
        return Plan("native", call, args={"lines": (f"return {call}",)})
    if case.op in ADAPTIVE_OPS:
        size = p.output_size or case.spatial_shape
        if not all(semantics.adaptive_is_uniform(L, o) for L, o in zip(case.spatial_shape, size)):
            return unsupported("LiteRT has no adaptive pooling, and these bins are uneven (no single window)")
        k = [L // o for L, o in zip(case.spatial_shape, size)]
        fn = "max_pool" if case.op == "adaptive_max_pool" else "avg_pool"
        call = f"tf.nn.{fn}(x, ksize={k}, strides={k}, padding='VALID')"
        return Plan("emulated", call, reason="LiteRT has no adaptive pooling; every dim divides, so one window "
                    "k = s = L/out", args={"lines": (f"return {call}",)})
    return _plan_window(case, steps)


def _plan_window(case: Case, steps: script.Steps) -> Plan:
    p = case.params
    fn = "max_pool" if case.op == "max_pool" else "avg_pool"
    window = f"ksize={list(p.kernel_size)}, strides={list(p.stride)}"
    padding = _tf_padding(case)
    if padding is not None:
        call = f"tf.nn.{fn}(x, {window}, padding='{padding}')"
        return Plan("native", call, args={"lines": (f"return {call}",)})
    pads = semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode)
    full = [[0, 0], *[list(x) for x in pads], [0, 0]]
    is_max = case.op == "max_pool"
    lines: list[str] = []
    x = "x"
    if any(b or a for b, a in pads):
        pad = Pad(pads, -math.inf if is_max else 0.0, f"tf.pad ({'-inf' if is_max else 'zeros'}) in front: "
                  "LiteRT pooling pads only 'SAME'; the after-pad also makes ceil-mode windows")
        # Lp pads x before its power with tf.pad's own zeros: 0**p = 0 for any p > 0 (all a case may have).
        value = "" if case.op == "lp_pool" else f", constant_values={'-np.inf' if is_max else '0.0'}"
        lines += steps.block(pad, f"x = tf.pad(x, {full}{value})")
        x = f"tf.pad(x, {full}{value})"
    if is_max:
        call = f"tf.nn.max_pool({x}, {window}, padding='VALID')"
        return Plan("emulated", call, reason="LiteRT pooling has no explicit, asymmetric or ceil-mode padding",
                    args={"lines": (*lines, f"return tf.nn.max_pool(x, {window}, padding='VALID')")})
    size = math.prod(p.kernel_size)
    if case.op == "lp_pool":
        q = float(p.norm_type or 2.0)
        power = f"{int(q)}.0" if q.is_integer() else repr(q)
        lines += steps.block(Note(f"lp: window sums of x**{q:g} = avg_pool(VALID) * {size}, then **(1/{q:g}); no abs, "
                                  "as PyTorch (L2_POOL_2D is a root mean square and no TF op converts to it)"),
                             f"sums = tf.nn.avg_pool(x ** {power}, {window}, padding='VALID') * {size}.0",
                             f"out = sums ** (1.0 / {q!r})")
        return Plan("emulated", "tf.nn.avg_pool(x ** p) * k ** (1/p)", reason="LiteRT has no Lp pooling",
                    args={"lines": (*lines, "return out")})
    sums = f"sums = tf.nn.avg_pool(x, {window}, padding='VALID') * {size}.0"
    if p.divisor_override is not None:
        lines += steps.block(Note(f"window sums = avg_pool(VALID) * {size}; divided by divisor_override="
                                  f"{p.divisor_override}"), sums, f"out = sums / {p.divisor_override}.0")
    else:
        counted = "padded extent" if p.count_include_pad else "real input"
        lines += steps.block(Note(f"window sums = avg_pool(VALID) * {size}; divided by the same pooling of a constant "
                                  f"mask of the {counted} (count_include_pad={p.count_include_pad}; folded by the "
                                  "converter)"), sums, *_mask_lines(case, pads, window, size))
    return Plan("emulated", f"tf.nn.avg_pool({x}, {window}, padding='VALID') * {size} / divisor",
                reason="LiteRT pooling has no explicit, asymmetric or ceil-mode padding or divisor_override",
                args={"lines": (*lines, "return out")})


def _mask_lines(case: Case, pads: tuple[tuple[int, int], ...], window: str, size: int) -> list[str]:
    """Lines computing `out`, the window sums divided by the divisor per window from a constant
    mask: ones on the real input, padded with ones where the declared padding counts, zeros
    elsewhere (the rest of the pads: the uncounted padding and the ceil-mode overhang)."""
    p = case.params
    # Floor mode can leave trailing pads unused: only what the windows reach counts.
    declared = (tuple((min(cb, pb), min(ca, pa)) for (cb, ca), (pb, pa) in zip(p.padding, pads))
                if p.count_include_pad else tuple((0, 0) for _ in pads))
    counted = [[0, 0], *[list(c) for c in declared], [0, 0]]
    rest = [[0, 0], *[[pb - cb, pa - ca] for (pb, pa), (cb, ca) in zip(pads, declared)], [0, 0]]
    return [f"mask = tf.pad(tf.pad(tf.ones([1, *{list(case.spatial_shape)}, 1]), {counted}, constant_values=1.0), "
            f"{rest})",
            f"counts = tf.nn.avg_pool(mask, {window}, padding='VALID') * {size}.0",
            "out = sums / counts"]


# ---------------------------------------------------------------- the script that runs


def _indent(lines: tuple[str, ...]) -> str:
    return "\n".join(f"    {line}".rstrip() for line in lines)


def source(case: Case, plan_: Plan) -> str:
    shape = [case.input.shape[0], *case.spatial_shape, case.input.shape[1]]
    setup = "\n".join(plan_.args["setup"])
    return f'''import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType


@tf.function(input_signature=[tf.TensorSpec({shape}, tf.float32)])
def model(x):  # channels-last, as TF and LiteRT hold data
{_indent(plan_.args["lines"])}


converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
flatbuffer = converter.convert()
{setup}
interpreter = Interpreter(model_content=flatbuffer, experimental_op_resolver_type=resolver)
interpreter.allocate_tensors()


def pool(x_np, upstream=None):
{_indent(plan_.args["pool"])}
    return out, None, None
'''


def repro(case: Case, plan_: Plan) -> str:
    return source(case, plan_) + "\n\nout, _, _ = pool(x_np)\nprint(out)\n"


def model_ops(interpreter: Any) -> tuple[list[str], list[list[list[int]]]]:
    """The converted model's operators, in order, and the paddings of its PAD / PADV2 ops."""
    names, pads = [], []
    for op in interpreter._get_ops_details():  # no public API lists a model's operators
        names.append(op["op_name"])
        if op["op_name"] in ("PAD", "PADV2"):
            pads.append(interpreter.get_tensor(op["inputs"][1]).tolist())
    return names, pads


def _executed(case: Case, plan_: Plan, interpreter: Any) -> tuple[str, ...]:
    names, pads = model_ops(interpreter)
    planned = [[[0, 0], *[list(x) for x in s.pads], [0, 0]] for s in plan_.steps if isinstance(s, Pad)]
    if planned != pads:
        raise RuntimeError(f"the converted model's PAD ops {pads} are not the plan's {planned} (ops: {names})")
    ops = " -> ".join(n + (f" {pads.pop(0)}" if n in ("PAD", "PADV2") else "") for n in names if n != "DELEGATE")
    ran = ("the XNNPACK delegate (a DELEGATE node took the ops it supports)" if "DELEGATE" in names
           else "builtin kernels (no delegate)")
    return (f"converted model ops (read back from the .tflite): {ops}", f"ran on {ran}")


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    _import()
    scope, convert = script.compiled(source(case, plan_))
    start = time.perf_counter()
    out, _, _ = scope["pool"](x)
    seconds = time.perf_counter() - start
    return Outcome(output=out, dtype=str(out.dtype), seconds=seconds,
                   executed=_executed(case, plan_, scope["interpreter"]), convert_seconds=convert or 0.0)

