"""Keras 3 adapter (TensorFlow backend by default; `keras-jax` and `keras-torch` run the same
module in workers started with KERAS_BACKEND set, since Keras picks its backend at import).

Keras is channels-last: inputs are transposed N C ... -> N ... C and outputs back, and both
transposes are plan steps. Native: `keras.ops.max_pool` / `average_pool` with padding 'valid'
or 'same' (TF's same: its average excludes the pads), Global*Pooling layers, and
`keras.ops.adaptive_*_pool`. Emulated, exactly: explicit / asymmetric padding and ceil mode by
an explicit pad (-inf for max, zeros for average) and a 'valid' pool; averages whose divisor
is not the full window are window sums (average * window size) divided by the same pooling of
a mask of the counted positions. Unsupported: dilation, Lp pooling, argmax indices.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from harness import semantics
from harness.adapters.base import Outcome, Probe, Stopwatch
from harness.plan import Note, Pad, Plan, Step, Transpose, unsupported
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
    devices = {"cpu": "cpu"}
    if backend == "tensorflow":
        gpus = mod.config.list_physical_devices("GPU")
        if gpus:
            devices["gpu"] = gpus[0].name
    elif backend == "jax":
        try:
            devices["gpu"] = mod.devices("gpu")[0].device_kind
        except RuntimeError:
            pass
    elif mod.cuda.is_available():
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


def _transposes(case: Case, out_spatial: bool = True) -> tuple[Step, Step | None]:
    n = case.spatial_dims
    first, last = _NAMES[n]
    to_last = (0, *range(2, 2 + n), 1)
    to_first = (0, n + 1, *range(1, n + 1))
    back = Transpose(to_first, f"output {last} -> {first}") if out_spatial else None
    return Transpose(to_last, f"input {first} -> {last}"), back


def plan(case: Case, backend: str | None = None) -> Plan:
    p, n = case.params, case.spatial_dims
    if case.op == "lp_pool":
        return unsupported("Keras has no Lp pooling")
    if any(d > 1 for d in p.dilation):
        return unsupported("Keras pooling has no dilation")
    if case.op == "max_unpool" or p.return_indices:
        if case.op == "max_pool" and backend == "tensorflow" and n == 2:
            return _plan_argmax(case)
        return unsupported("Keras pooling returns no argmax indices (so no unpooling either); TF's "
                           "max_pool_with_argmax covers only 2-D max pooling on the TensorFlow backend")
    into, back = _transposes(case, out_spatial=case.op not in GLOBAL_OPS or p.keepdims)
    if case.op in GLOBAL_OPS:
        layer = f"keras.layers.Global{'Max' if 'max' in case.op else 'Average'}Pooling{n}D(keepdims={p.keepdims})"
        return Plan("native", f"{layer}(x)", (into, back) if back else (into,), args={"kind": "global"})
    if case.op in ADAPTIVE_OPS:
        fn = "adaptive_max_pool" if case.op == "adaptive_max_pool" else "adaptive_average_pool"
        return Plan("native", f"keras.ops.{fn}(x, output_size={p.output_size}, data_format='channels_last')",
                    (into, back) if back else (into,), args={"kind": "adaptive", "fn": fn})
    fn = "max_pool" if case.op == "max_pool" else "average_pool"
    override = case.native.get("keras")
    if override is not None:
        kwargs = {"pool_size": p.kernel_size, "strides": p.stride, "padding": "valid", **override}
        call = f"keras.ops.{fn}(x, " + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
        return Plan("native-override", call, (into, back) if back else (into,),
                    reason="case asks for Keras's own parameters instead of the canonical semantics",
                    args={"kind": "override", "fn": fn, "kwargs": kwargs})
    padding = _native_padding(case)
    if padding is not None:
        call = f"keras.ops.{fn}(x, pool_size={p.kernel_size}, strides={p.stride}, padding='{padding}')"
        return Plan("native", call, (into, back) if back else (into,),
                    args={"kind": "window", "fn": fn, "padding": padding})
    return _emulate(case, fn, into, back)


def _plan_argmax(case: Case) -> Plan:
    """Keras on TF: tf.nn.max_pool_with_argmax, whose indices are flat over the (padded) NHWC
    input, ((h * W) + w) * C + c; remapped to h * W + w of the unpadded plane."""
    p = case.params
    into, back = _transposes(case)
    pads = _after_pads(case)
    steps: list[Step] = [into]
    if any(b or a for b, a in pads):
        steps.append(Pad(pads, -math.inf, "-inf: max_pool_with_argmax takes only 'SAME'/'VALID'"))
    steps += [Note("index remap: TF flat index ((h*W)+w)*C + c over the padded NHWC input -> h*W + w of "
                   "the input plane (include_batch_in_index=False)")]
    if back:
        steps.append(back)
    call = (f"tf.nn.max_pool_with_argmax(x, ksize={p.kernel_size}, strides={p.stride}, padding='VALID', "
            "include_batch_in_index=False)")
    return Plan("native", call, tuple(steps), reason="Keras layers return no indices; TF's own op does",
                args={"kind": "argmax", "pads": pads})


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


def _emulate(case: Case, fn: str, into: Step, back: Step | None) -> Plan:
    p = case.params
    pads = _after_pads(case)
    is_max = case.op == "max_pool"
    low = "iinfo.min" if case.input.dtype in INT_DTYPES else "-inf"
    steps: list[Step] = [into, Pad(tuple(pads), -math.inf if is_max else 0.0,
                                   f"{low if is_max else 'zeros'}: Keras pads only 'same'; after-pad also makes "
                                   "ceil-mode windows")]
    why = "explicit, asymmetric or ceil-mode padding"
    if not is_max:
        size = math.prod(p.kernel_size)
        if p.divisor_override is not None:
            steps.append(Note(f"window sums = average_pool(valid) * {size}; divided by divisor_override="
                              f"{p.divisor_override}"))
            why += ", divisor_override"
        else:
            counted = "padded extent" if p.count_include_pad else "real input"
            steps.append(Note(f"window sums = average_pool(valid) * {size}; divided by the same pooling of a mask "
                              f"of the {counted} (count_include_pad={p.count_include_pad})"))
    if back:
        steps.append(back)
    call = f"keras.ops.{fn}(keras.ops.pad(x, ...), pool_size={p.kernel_size}, strides={p.stride}, padding='valid')"
    return Plan("emulated", call, tuple(steps), reason=f"Keras pooling has no {why}",
                args={"kind": "emulated", "fn": fn, "pads": tuple(pads)})


# ---------------------------------------------------------------- execution


def _forward(case: Case, args: dict[str, Any], x: Any) -> Any:
    """x is channels-last; returns the channels-last (or (N, C)) output."""
    keras, p = _import(), case.params
    ops, n = keras.ops, case.spatial_dims
    kind = args["kind"]
    if kind == "argmax":
        import tensorflow as tf

        dtype = keras.backend.standardize_dtype(x.dtype)
        low = np.iinfo(dtype).min if dtype.startswith("int") else -np.inf
        padded = ops.pad(x, [(0, 0), *args["pads"], (0, 0)], constant_values=low)
        return tf.nn.max_pool_with_argmax(padded, p.kernel_size, p.stride, "VALID", include_batch_in_index=False)
    if kind == "global":
        name = f"Global{'Max' if 'max' in case.op else 'Average'}Pooling{n}D"
        return getattr(keras.layers, name)(keepdims=p.keepdims)(x)
    if kind == "adaptive":
        return getattr(ops, args["fn"])(x, output_size=p.output_size, data_format="channels_last")
    pool = getattr(ops, args["fn"])
    if kind == "override":
        return pool(x, data_format="channels_last", **args["kwargs"])
    if kind == "window":
        return pool(x, p.kernel_size, p.stride, args["padding"], data_format="channels_last")
    pads = [(0, 0), *args["pads"], (0, 0)]
    if case.op == "max_pool":
        # The tensor's own dtype: Keras on JAX without x64 has already made int64 an int32.
        dtype = keras.backend.standardize_dtype(x.dtype)
        low = np.iinfo(dtype).min if dtype.startswith("int") else -np.inf
        return pool(ops.pad(x, pads, constant_values=low), p.kernel_size, p.stride, "valid", data_format="channels_last")
    size = math.prod(p.kernel_size)
    sums = pool(ops.pad(x, pads), p.kernel_size, p.stride, "valid", data_format="channels_last") * size
    if p.divisor_override is not None:
        return sums / p.divisor_override
    mask = semantics.count_mask(case.spatial_shape, p.padding, args["pads"], p.count_include_pad)
    m = ops.convert_to_tensor(mask[None, ..., None], dtype=sums.dtype)
    counts = pool(m, p.kernel_size, p.stride, "valid", data_format="channels_last") * size
    return sums / counts


def _to_numpy(t: Any) -> np.ndarray:
    keras = _import()
    if keras.backend.backend() == "torch" and keras.backend.standardize_dtype(t.dtype) == "bfloat16":
        import ml_dtypes

        return keras.ops.convert_to_numpy(keras.ops.cast(t, "float32")).astype(ml_dtypes.bfloat16)
    return np.asarray(keras.ops.convert_to_numpy(t))


def _tensor(a: np.ndarray) -> Any:
    """An explicit-dtype tensor (raw TF ops would silently make float32 of some NumPy inputs)."""
    keras = _import()
    if keras.backend.backend() == "torch" and a.dtype.name == "bfloat16":
        return keras.ops.cast(keras.ops.convert_to_tensor(a.astype(np.float32), dtype="float32"), "bfloat16")
    return keras.ops.convert_to_tensor(a, dtype=a.dtype.name)


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    keras = _import()
    ops, n = keras.ops, case.spatial_dims
    to_last = (0, *range(2, 2 + n), 1)
    to_first = (0, n + 1, *range(1, n + 1))
    clock = Stopwatch()
    with keras.device(f"{'gpu' if device == 'gpu' else 'cpu'}:0"):
        xt = _tensor(x)

        found: dict[str, Any] = {}

        def f(t: Any) -> Any:
            out = _forward(case, plan_.args, ops.transpose(t, to_last))
            if isinstance(out, tuple):  # (values, TF argmax indices)
                out, found["indices"] = out
            return ops.transpose(out, to_first) if len(out.shape) == n + 2 else out

        with clock.framework():
            if upstream is None:
                out, grad = f(xt), None
            else:
                out, grad = _with_grad(f, xt, _tensor(upstream))
            out_np = _to_numpy(out)
            grad_np = None if grad is None else _to_numpy(grad)
    indices = None
    if "indices" in found:
        indices = _tf_indices(np.asarray(found["indices"]), case.spatial_shape, plan_.args["pads"], x.shape[1])
    return Outcome(output=out_np, indices=indices, grad=grad_np, dtype=keras.backend.standardize_dtype(out.dtype),
                   seconds=clock.seconds)


def _tf_indices(idx: np.ndarray, spatial: tuple[int, ...], pads: tuple[tuple[int, int], ...], channels: int) -> np.ndarray:
    """TF ((h*Wp)+w)*C + c over the padded NHWC input -> h*W + w of the input plane, NCHW."""
    return np.moveaxis(semantics.unpad_flat_indices(idx // channels, spatial, pads), -1, 1)

def _with_grad(f: Any, xt: Any, up: Any) -> tuple[Any, Any]:
    """Gradient of sum(f(x) * up) with the backend's own autodiff."""
    backend = _import().backend.backend()
    mod = _backend_module()
    if backend == "tensorflow":
        with mod.GradientTape() as tape:
            tape.watch(xt)
            out = f(xt)
            loss = mod.reduce_sum(out * up)
        return out, tape.gradient(loss, xt)
    if backend == "jax":
        out, pullback = mod.vjp(f, xt)
        return out, pullback(up)[0]
    xt = xt.detach().requires_grad_(True)
    out = f(xt)
    (grad,) = mod.autograd.grad((out * up).sum(), xt)
    return out, grad


def repro(case: Case, plan_: Plan) -> str:
    """Plain Keras code reproducing this result from a NumPy `x_np`."""
    n = case.spatial_dims
    lines = ["import keras", f"x = keras.ops.transpose(keras.ops.convert_to_tensor(x_np, dtype='{case.input.dtype}'), "
             f"{(0, *range(2, 2 + n), 1)})"]
    if plan_.args.get("kind") == "emulated":
        lines.append(f"# emulated: {'; '.join(plan_.conversions()[1:])}")
    lines.append(f"out = {plan_.call}")
    lines.append("print(out)  # channels-last")
    return "\n".join(lines)
