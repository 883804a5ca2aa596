"""PaddlePaddle adapter: `paddle.nn.functional` pooling, channels-first (`data_format='NCHW'`,
Paddle's default, so no transpose).

The code that runs is the repro script: `source(case, plan, device)` writes plain Paddle code
defining `pool(x_np, upstream)`, `execute` runs it (once per text) and calls it, and `repro`
hands the same text out. Translation from PyTorch's names (the official mapping:
https://www.paddlepaddle.org.cn/documentation/docs/en/guides/model_convert/convert_from_pytorch/pytorch_api_mapping_cn.html);
the plan steps among them are blocks of the script marked `# conversion N:` (script.py):
- `count_include_pad` -> `exclusive = not count_include_pad` (Paddle's default `exclusive=True`
  is PyTorch's `count_include_pad=False`, the opposite default), a plan step;
- asymmetric padding -> Paddle's own per-dim `[[0, 0], [0, 0], [before, after], ...]` form;
- `return_indices` -> `return_mask` (a step); `divisor_override` as is (2-D / 3-D only: 1-D
  runs as `avg_pool2d` on an (N, C, 1, L) view, an exact emulation, a step); max_unpool1d's
  output_size as the full [N, C, L] shape (a step; 2-D and 3-D take the spatial size as is);
- global pooling -> `paddle.amax` / `paddle.mean` over the spatial axes (Paddle has none).
Unsupported: dilation (Paddle pooling has none), 3-D Lp pooling (no `lp_pool3d`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.adapters import script
from harness.adapters.base import Outcome, Probe
from harness.plan import Note, Plan, unsupported
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, Case

_paddle: Any = None


def _import() -> Any:
    global _paddle
    if _paddle is None:
        import sys

        if "tensorflow" in sys.modules and "paddle" not in sys.modules:
            # Measured: paddlepaddle 3.3.1 segfaults when imported after tensorflow 2.21 (the other
            # order works). Workers import one framework each; only --no-isolation gets here.
            raise RuntimeError("Paddle crashes when imported after TensorFlow in one process: run it in its "
                               "own worker (drop --no-isolation) or import paddle first")
        import paddle

        _paddle = paddle
    return _paddle


def probe() -> Probe:
    paddle = _import()
    devices = {"cpu": "cpu"}
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        devices["gpu"] = paddle.device.cuda.get_device_name(0)
    return Probe(versions={"paddlepaddle": paddle.__version__}, devices=devices)


# ---------------------------------------------------------------- planning (no paddle import)


def _kw(**kwargs: Any) -> str:
    return ", ".join(f"{k}={_py(v)}" for k, v in kwargs.items())


def _py(v: Any) -> str:
    """Python literal with lists (Paddle wants lists; tuples work but read oddly in a repro)."""
    if isinstance(v, tuple):
        return "[" + ", ".join(_py(e) for e in v) + "]"
    return repr(v)


def _padding(case: Case) -> Any:
    """The case's padding in Paddle's form: "SAME" / "VALID" when the author wrote them, per-dim
    ints when symmetric, else [before, after] (1-D) or NCHW pairs [[0, 0], [0, 0], [b, a], ...]."""
    p, n = case.params, case.spatial_dims
    if p.padding_mode in ("same", "valid"):
        return p.padding_mode.upper()
    if p.symmetric_padding:
        return p.padding[0][0] if n == 1 else tuple(b for b, _ in p.padding)
    if n == 1:
        return p.padding[0]
    return ((0, 0), (0, 0), *p.padding)


def plan(case: Case, backend: str | None = None) -> Plan:
    p, n = case.params, case.spatial_dims
    if any(d > 1 for d in p.dilation):
        return unsupported("Paddle pooling has no dilation")
    if case.op in GLOBAL_OPS:
        fn = "amax" if case.op == "global_max_pool" else "mean"
        axes = tuple(range(2, 2 + n))
        call = f"paddle.{fn}(x, axis={_py(axes)}, keepdim={p.keepdims})"
        return Plan("emulated", call, reason="Paddle has no global pooling op; reduced over the spatial axes",
                    args={"lines": (f"out = {call}",)})
    if case.op in ADAPTIVE_OPS:
        kind = "max" if case.op == "adaptive_max_pool" else "avg"
        kwargs: dict[str, Any] = {"output_size": p.output_size}
        if kind == "max" and p.return_indices:
            kwargs["return_mask"] = True
        call = f"F.adaptive_{kind}_pool{n}d(x, {_kw(**kwargs)})"
        return Plan("native", call, args={"lines": (("out, mask = " if p.return_indices else "out = ") + call,)})
    if case.op == "lp_pool":
        if n == 3:
            return unsupported("Paddle has no lp_pool3d")
        call = (f"F.lp_pool{n}d(x, {_kw(norm_type=p.norm_type, kernel_size=p.kernel_size, stride=p.stride)}, "
                f"padding={_py(_padding(case))}, ceil_mode={p.ceil_mode})")
        return Plan("native", call, args={"lines": (f"out = {call}",)})
    if case.op == "avg_pool":
        return _plan_avg(case)
    return _plan_max(case)


def _plan_max(case: Case) -> Plan:
    p, n = case.params, case.spatial_dims
    pool = f"F.max_pool{n}d(x, {_kw(kernel_size=p.kernel_size, stride=p.stride)}, padding={_py(_padding(case))}"
    if not (p.return_indices or case.op == "max_unpool"):
        call = f"{pool}, ceil_mode={p.ceil_mode})"
        return Plan("native", call, args={"lines": (f"out = {call}",)})
    steps = script.Steps()
    lines = ["return_mask = False  # Paddle's default: no indices",
             *steps.block(Note("indices: return_mask=True (PyTorch's return_indices), flat per (N, C) plane"),
                          "return_mask = True"),
             f"out, mask = {pool}, return_mask=return_mask, ceil_mode={p.ceil_mode})"]
    if p.return_indices and case.op != "max_unpool":
        return Plan("native", f"{pool}, return_mask=True, ceil_mode={p.ceil_mode})", tuple(steps.steps),
                    args={"lines": tuple(lines), "indices": True})
    spatial = p.output_size or ()
    size = (*case.input.shape[:2], *spatial) if n == 1 else spatial
    lines.append(f"output_size = {_py(spatial)}  # PyTorch's form: the spatial size")
    if n == 1:
        # max_unpool1d reads a spatial-only output_size as its [N, C] (it inserts the height-1 dim
        # at position 2 of whatever it gets: "invalid output_size [8, 1]"); 2-D and 3-D take either.
        lines += steps.block(Note(f"output_size {list(spatial)} given as the full shape {list(size)}"),
                             f"output_size = {_py(size)}")
    unpool = (f"F.max_unpool{n}d(out, mask, {_kw(kernel_size=p.kernel_size, stride=p.stride)}, "
              f"padding={_py(_padding(case))}, output_size=output_size)")
    lines.append(f"out = {unpool}")
    shown = unpool.replace("output_size=output_size", f"output_size={_py(size)}")
    return Plan("native", f"{shown} after {pool}, return_mask=True)", tuple(steps.steps), args={"lines": tuple(lines)})


def _plan_avg(case: Case) -> Plan:
    p, n = case.params, case.spatial_dims
    exclusive = not p.count_include_pad
    steps = script.Steps()
    lines = [f"count_include_pad = {p.count_include_pad}  # PyTorch's parameter, as the case gives it",
             *steps.block(Note(f"count_include_pad={p.count_include_pad} -> exclusive={exclusive} "
                               "(Paddle's default exclusive=True is the opposite of PyTorch's default)"),
                          "exclusive = not count_include_pad")]
    if p.divisor_override is None or n > 1:
        divisor = "" if p.divisor_override is None else f", divisor_override={p.divisor_override}"
        call = f"F.avg_pool{n}d(x, {_kw(kernel_size=p.kernel_size, stride=p.stride)}, padding={_py(_padding(case))}, " \
               f"ceil_mode={p.ceil_mode}, exclusive={{}}{divisor})"
        lines.append("out = " + call.format("exclusive"))
        return Plan("native", call.format(exclusive), tuple(steps.steps), args={"lines": tuple(lines)})
    # avg_pool1d has no divisor_override: the same pooling as 2-D over a height-1 view.
    (b, a), = p.padding
    pad2 = ((0, 0), (0, 0), (0, 0), (b, a))
    call = (f"F.avg_pool2d(x.unsqueeze(2), kernel_size=[1, {p.kernel_size[0]}], stride=[1, {p.stride[0]}], "
            f"padding={_py(pad2)}, ceil_mode={p.ceil_mode}, exclusive={{}}, "
            f"divisor_override={p.divisor_override}).squeeze(2)")
    lines += steps.block(Note("avg_pool1d has no divisor_override: avg_pool2d over an (N, C, 1, L) view"),
                         "out = " + call.format("exclusive"))
    return Plan("emulated", call.format(exclusive), tuple(steps.steps), reason="Paddle's avg_pool1d has no "
                "divisor_override", args={"lines": tuple(lines)})


# ---------------------------------------------------------------- the script that runs


def source(case: Case, plan_: Plan, device: str = "cpu") -> str:
    """Plain Paddle code defining `pool(x_np, upstream=None) -> (out, indices, grad)`."""
    indices = "mask" if case.params.return_indices and case.op != "max_unpool" else None
    body = "\n".join(f"    {line}".rstrip() for line in plan_.args["lines"])
    bf16 = case.input.dtype == "bfloat16"
    to_tensor = ("paddle.to_tensor(x_np.astype(np.float32)).astype('bfloat16')" if bf16
                 else "paddle.to_tensor(x_np)")
    return f'''import numpy as np
import ml_dtypes
import paddle
import paddle.nn.functional as F

paddle.set_device({'gpu' if device == 'gpu' else 'cpu'!r})


def to_numpy(t):
    # Paddle hands bfloat16 out as raw uint16: go through float32 (exact) to NumPy's bfloat16.
    if t.dtype == paddle.bfloat16:
        return t.astype('float32').numpy().astype(ml_dtypes.bfloat16)
    return t.numpy()


def pool(x_np, upstream=None):
    x = {to_tensor}
    x.stop_gradient = upstream is None
{body}
    grad = None
    if upstream is not None:
        up = {to_tensor.replace('x_np', 'upstream')}
        (grad,) = paddle.grad((out * up).sum(), x)
        grad = to_numpy(grad)
    return to_numpy(out), {f"{indices}.numpy().astype(np.int64)" if indices else "None"}, grad
'''


def repro(case: Case, plan_: Plan) -> str:
    """The script `execute` runs, and the two lines that run it on `x_np`."""
    tail = "out, indices, _ = pool(x_np)" if case.params.return_indices and case.op != "max_unpool" \
        else "out, _, _ = pool(x_np)"
    return source(case, plan_) + f"\n\n{tail}\nprint(out)\n"


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    _import()
    return script.pool_outcome(source(case, plan_, device), x, upstream)
