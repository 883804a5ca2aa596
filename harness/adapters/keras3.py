"""Keras 3 adapter (TensorFlow backend by default; `keras-jax` and `keras-torch` run the same
module in workers started with KERAS_BACKEND set, since Keras picks its backend at import).

Keras is channels-last: inputs are transposed N C ... -> N ... C and outputs back, and both
transposes are plan steps. Native: `keras.ops.max_pool` / `average_pool` with padding 'valid'
or 'same' (TF's same: its average excludes the pads), Global*Pooling layers, and
`keras.ops.adaptive_*_pool`. Emulated, exactly: explicit / asymmetric padding and ceil mode by
an explicit pad (-inf for max, zeros for average) and a 'valid' pool; averages whose divisor
is not the full window are window sums (average * window size) divided by the same pooling of
a mask of the counted positions. Unsupported: dilation, Lp pooling, argmax indices (but TF's own
max_pool_with_argmax in 2-D on the TensorFlow backend).

The plan's code (harness/adapters/script.py) is what runs and what the repro shows; it is written
for one backend (it sets KERAS_BACKEND before importing Keras).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from harness import semantics
from harness.adapters import script
from harness.adapters.base import Outcome, Probe, Stopwatch, jax_devices
from harness.plan import Note, Pad, Plan, Transpose, unsupported
from harness.snippets import count_mask, source, unpad_flat_indices
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, INT_DTYPES, Case

_keras: Any = None
_NAMES = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def _import() -> Any:
    global _keras
    if _keras is None:
        import keras

        _keras = keras
    return _keras


def _backend_module() -> Any:
    name = _import().backend.backend()
    return __import__({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name])


def probe() -> Probe:
    keras = _import()
    backend = keras.backend.backend()
    mod = _backend_module()
    devices = jax_devices(mod) if backend == "jax" else {"cpu": "cpu"}
    if backend == "tensorflow":
        gpus = mod.config.list_physical_devices("GPU")
        if gpus:
            devices["gpu"] = gpus[0].name
    elif backend == "torch" and mod.cuda.is_available():
        devices["gpu"] = mod.cuda.get_device_name(0)
    env = {"KERAS_BACKEND": backend}
    if backend == "tensorflow":
        env["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS") or "unset"
        env["oneDNN ops"] = _onednn_state()
    return Probe(versions={"keras": keras.__version__, backend: str(mod.__version__)}, devices=devices, env=env)


def _onednn_state() -> str:
    """Whether TF runs its oneDNN ops here. Unset, TF turns them on only on x86 CPUs with
    AVX512_VNNI / AVX512_BF16 / AMX (https://github.com/tensorflow/tensorflow/pull/56039), and
    some results depend on it (cases/global_adaptive.yaml: adaptive-max-out1)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return "on" if _pywrap_util_port.IsMklEnabled() else "off"
    except (ImportError, AttributeError):  # a TF without the query: say so rather than guess
        return "unknown"


# ---------------------------------------------------------------- planning (no keras import)


def plan(case: Case, backend: str | None = None) -> Plan:
    p, n = case.params, case.spatial_dims
    backend = backend or "tensorflow"
    if case.op == "lp_pool":
        return unsupported("Keras has no Lp pooling")
    if any(d > 1 for d in p.dilation):
        return unsupported("Keras pooling has no dilation")
    if case.op == "max_unpool" or p.return_indices:
        if case.op == "max_pool" and backend == "tensorflow" and n == 2:
            return _plan_argmax(case)
        return unsupported("Keras pooling returns no argmax indices (so no unpooling either); TF's "
                           "max_pool_with_argmax covers only 2-D max pooling on the TensorFlow backend")
    steps = script.Steps()
    into = _into(case, steps)
    if case.op in GLOBAL_OPS:
        layer = f"keras.layers.Global{'Max' if 'max' in case.op else 'Average'}Pooling{n}D(keepdims={p.keepdims})"
        body = [*into, f"out = {layer}(x)", *(_back(case, steps) if p.keepdims else [])]
        return Plan("native", f"{layer}(x)", tuple(steps.steps), code=_code(case, backend, body))
    if case.op in ADAPTIVE_OPS:
        fn = "adaptive_max_pool" if case.op == "adaptive_max_pool" else "adaptive_average_pool"
        call = f"keras.ops.{fn}(x, output_size={p.output_size}, data_format='channels_last')"
        return Plan("native", call, tuple(steps.steps), code=_code(case, backend, [*into, f"out = {call}",
                                                                                  *_back(case, steps)]))
    fn = "max_pool" if case.op == "max_pool" else "average_pool"
    override = case.native.get("keras")
    if override is not None:
        kwargs = {"pool_size": p.kernel_size, "strides": p.stride, "padding": "valid", **override}
        call = f"keras.ops.{fn}(x, " + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
        body = [*into, f"out = {call[:-1]}, data_format='channels_last')", *_back(case, steps)]
        return Plan("native-override", call, tuple(steps.steps), code=_code(case, backend, body),
                    reason="case asks for Keras's own parameters instead of the canonical semantics")
    padding = _native_padding(case)
    if padding is not None:
        call = f"keras.ops.{fn}(x, pool_size={p.kernel_size}, strides={p.stride}, padding='{padding}')"
        body = [*into, f"out = {call[:-1]}, data_format='channels_last')", *_back(case, steps)]
        return Plan("native", call, tuple(steps.steps), code=_code(case, backend, body))
    return _emulate(case, backend, fn, steps, into)


def _into(case: Case, steps: script.Steps) -> list[str]:
    """The marked transpose of the input to channels-last."""
    n = case.spatial_dims
    first, last = _NAMES[n]
    perm = (0, *range(2, 2 + n), 1)
    return steps.block(Transpose(perm, f"input {first} -> {last}"), f"x = keras.ops.transpose(x, {perm})")


def _back(case: Case, steps: script.Steps) -> list[str]:
    """The marked transpose of the output back to channels-first."""
    n = case.spatial_dims
    first, last = _NAMES[n]
    perm = (0, n + 1, *range(1, n + 1))
    return steps.block(Transpose(perm, f"output {last} -> {first}"), f"out = keras.ops.transpose(out, {perm})")


def _code(case: Case, backend: str, body: list[str], helpers: tuple[Any, ...] = (),
          finish: list[str] | None = None, returns: str = "out") -> str:
    """The plan's script for `backend`: pool(x) takes and gives channels-first tensors."""
    torch_bf16 = backend == "torch" and case.input.dtype == "bfloat16"
    lines = ["import os", "", f"os.environ['KERAS_BACKEND'] = {backend!r}  # Keras picks its backend at import",
             "import numpy as np", "import keras"]
    if torch_bf16:
        lines.append("import ml_dtypes")
    if any("tf." in b for b in body):
        lines.append("import tensorflow as tf")
    lines += ["", "", "def to_tensor(a, device=None):  # (the harness places it with keras.device)"]
    if torch_bf16:  # torch cannot take NumPy's bfloat16 (ml_dtypes): the exact float32 values, cast
        lines.append("    return keras.ops.cast(keras.ops.convert_to_tensor(a.astype(np.float32), dtype='float32'), "
                     "'bfloat16')")
    else:  # an explicit dtype: raw TF ops would make float32 of some NumPy inputs
        lines.append("    return keras.ops.convert_to_tensor(a, dtype=a.dtype.name)")
    lines += ["", "", "def to_numpy(t):"]
    if torch_bf16:
        lines += ["    if keras.backend.standardize_dtype(t.dtype) == 'bfloat16':",
                  "        return keras.ops.convert_to_numpy(keras.ops.cast(t, 'float32')).astype(ml_dtypes.bfloat16)"]
    lines += ["    return np.asarray(keras.ops.convert_to_numpy(t))", "", "", "def pool(x):"]
    lines += [f"    {b}" for b in body]
    lines.append(f"    return {returns}")
    for fn in helpers:
        lines += ["", "", source(fn).rstrip()]
    if finish:
        lines += ["", "", "def finish_indices(i):", *(f"    {f}" for f in finish)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _low(case: Case) -> str:
    """The pad value that never wins a max, as code on the channels-last tensor `x`."""
    if case.input.dtype in INT_DTYPES:  # the tensor's own dtype: Keras on JAX without x64 made int64 an int32
        return "np.iinfo(keras.backend.standardize_dtype(x.dtype)).min"
    return "-np.inf"


def _plan_argmax(case: Case) -> Plan:
    """Keras on TF: tf.nn.max_pool_with_argmax, whose indices are flat over the (padded) NHWC
    input, ((h * W) + w) * C + c; remapped to h * W + w of the unpadded plane."""
    p = case.params
    pads = _after_pads(case)
    steps = script.Steps()
    body = _into(case, steps)
    if any(b or a for b, a in pads):
        body += steps.block(Pad(pads, -math.inf, "-inf: max_pool_with_argmax takes only 'SAME'/'VALID'"),
                            f"x = keras.ops.pad(x, {[(0, 0), *pads, (0, 0)]!r}, constant_values={_low(case)})")
    body.append(f"out, idx = tf.nn.max_pool_with_argmax(x, {p.kernel_size!r}, {p.stride!r}, 'VALID', "
                "include_batch_in_index=False)")
    channels = case.input.shape[1]
    finish = steps.block(Note("index remap: TF flat index ((h*W)+w)*C + c over the padded NHWC input -> h*W + w of "
                              "the input plane (include_batch_in_index=False)"),
                         f"return np.moveaxis(unpad_flat_indices(i // {channels}, {case.spatial_shape!r}, {pads!r}), "
                         "-1, 1)")
    body += _back(case, steps)
    call = (f"tf.nn.max_pool_with_argmax(x, ksize={p.kernel_size}, strides={p.stride}, padding='VALID', "
            "include_batch_in_index=False)")
    return Plan("native", call, tuple(steps.steps), reason="Keras layers return no indices; TF's own op does",
                code=_code(case, "tensorflow", body, (unpad_flat_indices,), finish, returns="(out, idx)"))


def _after_pads(case: Case) -> tuple[tuple[int, int], ...]:
    p = case.params
    return semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode)


def _floor_equals_ceil(case: Case) -> bool:
    p = case.params
    return all(semantics.pooled_length(L, k, s, pad, 1, True) == semantics.pooled_length(L, k, s, pad, 1, False)
               for L, k, s, pad in zip(case.spatial_shape, p.kernel_size, p.stride, p.padding))


def _native_padding(case: Case) -> str | None:
    """'valid' or 'same' when Keras's own padding gives the canonical windows and divisors."""
    p = case.params
    if p.ceil_mode and not _floor_equals_ceil(case):
        return None
    plain_divisor = case.op == "max_pool" or p.divisor_override is None
    if all(b == a == 0 for b, a in p.padding) and plain_divisor:
        return "valid"
    same = tuple(semantics.same_padding(L, k, s, 1) for L, k, s in zip(case.spatial_shape, p.kernel_size, p.stride))
    # TF's 'same' average divides by the real taps only, i.e. count_include_pad=False.
    if p.padding == same and plain_divisor and (case.op == "max_pool" or not p.count_include_pad):
        return "same"
    return None


def _emulate(case: Case, backend: str, fn: str, steps: script.Steps, into: list[str]) -> Plan:
    p = case.params
    pads = _after_pads(case)
    is_max = case.op == "max_pool"
    low = "iinfo.min" if case.input.dtype in INT_DTYPES else "-inf"
    full = [(0, 0), *pads, (0, 0)]
    body = list(into)
    if any(b or a for b, a in pads):
        fill = f", constant_values={_low(case)}" if is_max else ""
        body += steps.block(Pad(tuple(pads), -math.inf if is_max else 0.0,
                                f"{low if is_max else 'zeros'}: Keras pads only 'same'; after-pad also makes "
                                "ceil-mode windows"), f"x = keras.ops.pad(x, {full!r}{fill})")
    why = "explicit, asymmetric or ceil-mode padding"
    window = f"{p.kernel_size!r}, {p.stride!r}, 'valid', data_format='channels_last'"
    helpers: tuple[Any, ...] = ()
    if is_max:
        body.append(f"out = keras.ops.max_pool(x, {window})")
    else:
        size = math.prod(p.kernel_size)
        sums = f"sums = keras.ops.average_pool(x, {window}) * {size}"
        if p.divisor_override is not None:
            why += ", divisor_override"
            body += steps.block(Note(f"window sums = average_pool(valid) * {size}; divided by divisor_override="
                                     f"{p.divisor_override}"), sums, f"out = sums / {p.divisor_override!r}")
        else:
            counted = "padded extent" if p.count_include_pad else "real input"
            helpers = (count_mask,)
            body += steps.block(
                Note(f"window sums = average_pool(valid) * {size}; divided by the same pooling of a mask "
                     f"of the {counted} (count_include_pad={p.count_include_pad})"), sums,
                f"mask = count_mask({case.spatial_shape!r}, {p.padding!r}, {pads!r}, {p.count_include_pad!r})",
                "mask = keras.ops.convert_to_tensor(mask[None, ..., None], dtype=sums.dtype)",
                f"out = sums / (keras.ops.average_pool(mask, {window}) * {size})")
    body += _back(case, steps)
    call = f"keras.ops.{fn}(keras.ops.pad(x, {full!r}), pool_size={p.kernel_size}, strides={p.stride}, padding='valid')"
    return Plan("emulated", call, tuple(steps.steps), reason=f"Keras pooling has no {why}",
                code=_code(case, backend, body, helpers))


# ---------------------------------------------------------------- execution


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    keras = _import()
    code = script.namespace(plan_.code)
    clock = Stopwatch()
    with keras.device(f"{'gpu' if device == 'gpu' else 'cpu'}:0"):
        xt = code["to_tensor"](x)
        found: dict[str, Any] = {}

        def f(t: Any) -> Any:
            out = code["pool"](t)
            if isinstance(out, tuple):  # (values, TF argmax indices)
                out, found["indices"] = out
            return out

        with clock.framework():
            # The output of a plain call, as the repro makes it: under a backend's autodiff (jax.vjp
            # on Keras-JAX) the same ops can round differently.
            out = f(xt)
            grad = None if upstream is None else _gradient(f, xt, code["to_tensor"](upstream))
            out_np = code["to_numpy"](out)
            grad_np = None if grad is None else code["to_numpy"](grad)
    indices = None
    if "indices" in found:
        indices = script.finish_indices(plan_, code["to_numpy"](found["indices"]))
    return Outcome(output=out_np, indices=indices, grad=grad_np, dtype=keras.backend.standardize_dtype(out.dtype),
                   seconds=clock.seconds)


def _gradient(f: Any, xt: Any, up: Any) -> Any:
    """Gradient of sum(f(x) * up) with the backend's own autodiff."""
    backend = _import().backend.backend()
    mod = _backend_module()
    if backend == "tensorflow":
        with mod.GradientTape() as tape:
            tape.watch(xt)
            loss = mod.reduce_sum(f(xt) * up)
        return tape.gradient(loss, xt)
    if backend == "jax":
        _, pullback = mod.vjp(f, xt)
        return pullback(up)[0]
    xt = xt.detach().requires_grad_(True)
    (grad,) = mod.autograd.grad((f(xt) * up).sum(), xt)
    return grad


def repro(case: Case, plan_: Plan) -> str:
    """The plan's code, run on the case input `x_np` (CPU)."""
    if "def finish_indices" in plan_.code:
        call = "out, indices = pool(to_tensor(x_np))\nout, indices = to_numpy(out), finish_indices(to_numpy(indices))"
    else:
        call = "out = to_numpy(pool(to_tensor(x_np)))"
    return script.repro(plan_, call)
