"""PyTorch adapter: torch.nn.functional pooling, natively where PyTorch has the parameters.

Emulations (each recorded as plan steps, and written out in the plan's code):
- max pooling with asymmetric padding, or padding above half the effective kernel (PyTorch
  rejects it): explicit -inf pad, then pooling without padding; indices remapped to the plane;
- average / lp pooling with dilation, asymmetric or oversized padding, or divisor_override in
  1-D (avg_pool1d has none): window sums by convolution with a ones kernel, divided by a
  divisor computed the same way from a mask of the counted positions;
- global pooling: amax / mean over the spatial dims (PyTorch has no global pooling op).

The plan's code (harness/adapters/script.py) is what runs and what the repro shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import semantics
from harness.adapters import script
from harness.adapters.base import Outcome, Probe, Stopwatch
from harness.plan import Note, Pad, Plan, unsupported
from harness.snippets import count_mask, source, unpad_flat_indices
from harness.spec import INT_DTYPES, Case

FN = "torch.nn.functional"
_torch: Any = None


def _import() -> Any:
    global _torch
    if _torch is None:
        import torch

        _torch = torch
    return _torch


def probe() -> Probe:
    torch = _import()
    devices = {"cpu": "cpu"}
    if torch.cuda.is_available():
        devices["gpu"] = torch.cuda.get_device_name(0)
    # str(): torch.__version__ is a TorchVersion, and unpickling one in the parent imports torch.
    return Probe(versions={"torch": str(torch.__version__)}, devices=devices)


# ---------------------------------------------------------------- planning (no torch import)


def _kw(**kwargs: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def plan(case: Case, backend: str | None = None) -> Plan:
    """The call and its code; `args` describes the PyTorch call as data ("fn", "kwargs", "dims",
    "pads" of an explicit pad, "unpool"), which torch_onnx exports."""
    n, p = case.spatial_dims, case.params
    if case.op == "global_max_pool" or case.op == "global_avg_pool":
        fn = "amax" if case.op == "global_max_pool" else "mean"
        dims = tuple(range(2, 2 + n))
        call = f"torch.{fn}(x, dim={dims}, keepdim={p.keepdims})"
        return Plan("emulated", call, reason="PyTorch has no global pooling op; reduced over the spatial dims",
                    args={"fn": fn, "dims": dims}, code=_code(case, [f"return {call}"]))
    if case.op in ("adaptive_max_pool", "adaptive_avg_pool"):
        kind = "max" if case.op == "adaptive_max_pool" else "avg"
        kwargs: dict[str, Any] = {"output_size": p.output_size}
        if kind == "max":
            kwargs["return_indices"] = p.return_indices
        call = f"{FN}.adaptive_{kind}_pool{n}d(x, {_kw(**kwargs)})"
        return Plan("native", call, args={"fn": f"adaptive_{kind}_pool{n}d", "kwargs": kwargs},
                    code=_code(case, [f"return {_short(call)}"]))
    override = case.native.get("torch")
    if override is not None:
        return _override(case, override)
    if case.op == "max_pool":
        return _plan_max(case)
    if case.op == "max_unpool":
        return _plan_unpool(case)
    return _plan_sum(case)


def _short(call: str) -> str:
    """A call as the code writes it (F for torch.nn.functional)."""
    return call.replace(f"{FN}.", "F.")


def _code(case: Case, body: list[str], helpers: tuple[Any, ...] = (), finish: list[str] | None = None) -> str:
    """The plan's script: imports, conversions in and out, pool(x) with `body`, helpers, and the
    index remap's body `finish`."""
    bf16 = case.input.dtype == "bfloat16"
    lines = ["import numpy as np", "import torch", "import torch.nn.functional as F"]
    if bf16:
        lines.append("import ml_dtypes")
    lines += ["", "", "def to_tensor(a, device='cpu'):"]
    if bf16:  # NumPy has no bfloat16: go through the raw 16-bit pattern, bit-exactly
        lines.append("    return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16).to(device)")
    else:
        lines.append("    return torch.from_numpy(np.ascontiguousarray(a)).to(device)")
    lines += ["", "", "def to_numpy(t):", "    t = t.detach().cpu()"]
    if bf16:
        lines.append("    return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16) if t.dtype == torch.bfloat16 "
                     "else t.numpy()")
    else:
        lines.append("    return t.numpy()")
    lines += ["", "", "def pool(x):", *(f"    {b}" for b in body)]
    for fn in helpers:
        lines += ["", "", source(fn).rstrip()]
    if finish:
        lines += ["", "", "def finish_indices(i):", *(f"    {f}" for f in finish)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _plan_unpool(case: Case) -> Plan:
    n, p = case.spatial_dims, case.params
    if not _native_padding(case):
        return unsupported("max_unpool round-trips PyTorch's own max_pool indices, which needs symmetric "
                           "padding of at most half the kernel")
    pool = dict(kernel_size=p.kernel_size, stride=p.stride, padding=tuple(b for b, _ in p.padding), return_indices=True)
    unpool = dict(kernel_size=p.kernel_size, stride=p.stride, padding=tuple(b for b, _ in p.padding),
                  output_size=p.output_size)
    call = f"{FN}.max_unpool{n}d(*{FN}.max_pool{n}d(x, {_kw(**pool)}), {_kw(**unpool)})"
    return Plan("native", call, args={"fn": f"max_pool{n}d", "kwargs": pool, "unpool": (f"max_unpool{n}d", unpool)},
                code=_code(case, [f"return {_short(call)}"]))


def _native_padding(case: Case) -> bool:
    """PyTorch pads symmetrically and rejects pad > kernel_size // 2 (dilation not counted)."""
    return all(b == a and b <= k // 2 for (b, a), k in zip(case.params.padding, case.params.kernel_size))


def _emulated_pads(case: Case) -> tuple[tuple[int, int], ...]:
    p = case.params
    return semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode)


def _torch_pads(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """F.pad wants (last_before, last_after, ..., first_before, first_after)."""
    return [v for pair in reversed(pads) for v in pair]


def _plan_max(case: Case) -> Plan:
    n, p = case.spatial_dims, case.params
    fn = f"max_pool{n}d"
    kwargs = dict(kernel_size=p.kernel_size, stride=p.stride, dilation=p.dilation,
                  return_indices=p.return_indices)
    ret = "out, idx = " if p.return_indices else "out = "
    back = "return (out, idx)" if p.return_indices else "return out"
    if _native_padding(case):
        kwargs.update(padding=tuple(b for b, _ in p.padding), ceil_mode=p.ceil_mode)
        call = f"{FN}.{fn}(x, {_kw(**kwargs)})"
        return Plan("native", call, args={"fn": fn, "kwargs": kwargs}, code=_code(case, [ret + _short(call), back]))
    pads = _emulated_pads(case)
    integer = case.input.dtype in INT_DTYPES
    low = "iinfo.min" if integer else "-inf"
    value = "torch.iinfo(x.dtype).min" if integer else "float('-inf')"
    steps = script.Steps()
    body = steps.block(Pad(pads, -np.inf, f"{low}: PyTorch pads symmetrically, at most half the effective kernel; "
                                          "after-pad also covers ceil-mode windows"),
                       f"x = F.pad(x, {_torch_pads(pads)!r}, value={value})")
    kwargs.update(padding=0, ceil_mode=False)
    body += [f"{ret}F.{fn}(x, {_kw(**kwargs)})", back]
    finish = None
    if p.return_indices:
        finish = steps.block(Note("index remap: flat index in the padded plane -> flat index in the input plane"),
                             f"return unpad_flat_indices(i, {case.spatial_shape!r}, {pads!r})")
    return Plan("emulated", f"{FN}.{fn}({FN}.pad(x, {_torch_pads(pads)!r}, value={low}), {_kw(**kwargs)})",
                tuple(steps.steps), reason="padding PyTorch's max_pool cannot take (asymmetric or above half the "
                "effective kernel)", args={"fn": fn, "kwargs": kwargs, "pads": pads},
                code=_code(case, body, (unpad_flat_indices,) if finish else (), finish))


def _plan_sum(case: Case) -> Plan:
    n, p = case.spatial_dims, case.params
    if case.op == "lp_pool":
        native = all(b == a == 0 for b, a in p.padding) and all(d == 1 for d in p.dilation)
        # lp_pool1d multiplies by kernel_size, so it only works with an int there.
        kernel: Any = p.kernel_size[0] if n == 1 else p.kernel_size
        kwargs: dict[str, Any] = dict(norm_type=p.norm_type, kernel_size=kernel, stride=p.stride,
                                      ceil_mode=p.ceil_mode)
        if native:
            call = f"{FN}.lp_pool{n}d(x, {_kw(**kwargs)})"
            return Plan("native", call, args={"fn": f"lp_pool{n}d", "kwargs": kwargs},
                        code=_code(case, [f"return {_short(call)}"]))
        why = "lp_pool has no padding or dilation"
    else:
        native = (all(d == 1 for d in p.dilation) and _native_padding(case)
                  and not (n == 1 and p.divisor_override is not None))
        kwargs = dict(kernel_size=p.kernel_size, stride=p.stride, padding=tuple(b for b, _ in p.padding),
                      ceil_mode=p.ceil_mode, count_include_pad=p.count_include_pad)
        if n > 1:
            kwargs["divisor_override"] = p.divisor_override
        if native:
            call = f"{FN}.avg_pool{n}d(x, {_kw(**kwargs)})"
            return Plan("native", call, args={"fn": f"avg_pool{n}d", "kwargs": kwargs},
                        code=_code(case, [f"return {_short(call)}"]))
        why = "avg_pool has no dilation, asymmetric padding, padding above half the kernel, or 1-D divisor_override"
    return _plan_conv(case, why)


def _plan_conv(case: Case, why: str) -> Plan:
    """Window sums by convolution with a ones kernel, then the root (lp) or the divisor (avg)."""
    n, p = case.spatial_dims, case.params
    pads = _emulated_pads(case)
    power = f"x.pow({p.norm_type!r})" if case.op == "lp_pool" else "x"
    window = f"stride={p.stride!r}, dilation={p.dilation!r}"
    steps = script.Steps()
    body = ["N, C = x.shape[:2]", "flat = x.reshape(N * C, 1, *x.shape[2:])"]
    if any(b or a for b, a in pads):
        body += steps.block(Pad(pads, 0.0, "zeros contribute nothing to window sums"),
                            f"flat = F.pad(flat, {_torch_pads(pads)!r})")
    body += steps.block(Note(f"window sums: {FN}.conv{n}d({power} as (N*C, 1, ...), ones{list(p.kernel_size)}, "
                             f"stride={list(p.stride)}, dilation={list(p.dilation)})"),
                        *([f"flat = flat.pow({p.norm_type!r})"] if case.op == "lp_pool" else []),
                        f"ones = torch.ones((1, 1, *{p.kernel_size!r}), dtype=flat.dtype, device=flat.device)",
                        f"sums = F.conv{n}d(flat, ones, {window})")
    helpers: tuple[Any, ...] = ()
    if case.op == "lp_pool":
        body += steps.block(Note(f"result = sums.pow(1/{p.norm_type:g})"),
                            f"out = sums.pow({1.0 / float(p.norm_type or 2.0)!r})")
    elif p.divisor_override is not None:
        body += steps.block(Note(f"divide by divisor_override={p.divisor_override}"), f"out = sums / {p.divisor_override!r}")
    else:
        counted = "padded extent" if p.count_include_pad else "real input"
        helpers = (count_mask,)
        body += steps.block(
            Note(f"divide by the same convolution of a mask of the {counted} (count_include_pad={p.count_include_pad})"),
            f"mask = count_mask({case.spatial_shape!r}, {p.padding!r}, {pads!r}, {p.count_include_pad!r})",
            "mask = torch.from_numpy(mask).to(dtype=flat.dtype, device=flat.device)[None, None]",
            f"out = sums / F.conv{n}d(mask, ones, {window})")
    body.append("return out.reshape(N, C, *out.shape[2:])")
    return Plan("emulated", f"{FN}.conv{n}d(...) / divisor", tuple(steps.steps), reason=why,
                args={"fn": "conv_sum", "pads": pads}, code=_code(case, body, helpers))


def _override(case: Case, override: dict[str, Any]) -> Plan:
    n = case.spatial_dims
    fn = {"max_pool": "max_pool", "avg_pool": "avg_pool", "lp_pool": "lp_pool"}[case.op] + f"{n}d"
    kwargs = dict(override)
    kwargs.setdefault("kernel_size", case.params.kernel_size)
    call = f"{FN}.{fn}(x, {_kw(**kwargs)})"
    return Plan("native-override", call, reason="case asks for PyTorch's own parameters instead of the canonical semantics",
                args={"fn": fn, "kwargs": kwargs}, code=_code(case, [f"return {_short(call)}"]))


# ---------------------------------------------------------------- execution


def _device(device: str) -> str:
    return "cuda" if device == "gpu" else "cpu"


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    torch = _import()
    code = script.namespace(plan_.code)
    dev = _device(device)
    xt = code["to_tensor"](x, dev)
    if upstream is not None:
        xt.requires_grad_(True)
    clock = Stopwatch()
    with clock.framework():
        out = code["pool"](xt)
        out, idx = out if isinstance(out, tuple) else (out, None)
        grad = None
        if upstream is not None:
            (grad,) = torch.autograd.grad((out * code["to_tensor"](upstream, dev)).sum(), xt)
        if dev == "cuda":
            torch.cuda.synchronize()
    to_numpy = code["to_numpy"]
    return Outcome(
        output=to_numpy(out),
        indices=None if idx is None else script.finish_indices(plan_, to_numpy(idx)),
        grad=None if grad is None else to_numpy(grad),
        dtype=str(out.dtype).replace("torch.", ""),
        seconds=clock.seconds,
    )


def repro(case: Case, plan_: Plan) -> str:
    """The plan's code, run on the case input `x_np` (CPU)."""
    returns = case.params.return_indices and case.op != "max_unpool"
    call = ("out, indices = pool(to_tensor(x_np))\nout, indices = to_numpy(out), finish_indices(to_numpy(indices))"
            if returns else "out = to_numpy(pool(to_tensor(x_np)))")
    if returns and "def finish_indices" not in plan_.code:
        call = call.replace("finish_indices(to_numpy(indices))", "to_numpy(indices)")
    return script.repro(plan_, call)
