"""PyTorch adapter: torch.nn.functional pooling, natively where PyTorch has the parameters.

Emulations (each recorded as plan steps):
- max pooling with asymmetric padding, or padding above half the effective kernel (PyTorch
  rejects it): explicit -inf pad, then pooling without padding;
- average / lp pooling with dilation, asymmetric or oversized padding, or divisor_override in
  1-D (avg_pool1d has none): window sums by convolution with a ones kernel, divided by a
  divisor computed the same way from a mask of the counted positions;
- global pooling: amax / mean over the spatial dims (PyTorch has no global pooling op).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness import semantics
from harness.adapters.base import Outcome, Probe, Stopwatch
from harness.plan import Note, Pad, Plan, Step, unsupported
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
    n, p = case.spatial_dims, case.params
    if case.op == "global_max_pool" or case.op == "global_avg_pool":
        fn = "amax" if case.op == "global_max_pool" else "mean"
        dims = tuple(range(2, 2 + n))
        return Plan("emulated", f"torch.{fn}(x, dim={dims}, keepdim={p.keepdims})",
                    reason="PyTorch has no global pooling op; reduced over the spatial dims",
                    args={"fn": fn, "dims": dims})
    if case.op in ("adaptive_max_pool", "adaptive_avg_pool"):
        kind = "max" if case.op == "adaptive_max_pool" else "avg"
        kwargs: dict[str, Any] = {"output_size": p.output_size}
        if kind == "max":
            kwargs["return_indices"] = p.return_indices
        return Plan("native", f"{FN}.adaptive_{kind}_pool{n}d(x, {_kw(**kwargs)})",
                    args={"fn": f"adaptive_{kind}_pool{n}d", "kwargs": kwargs})
    override = case.native.get("torch")
    if override is not None:
        return _override(case, override)
    if case.op == "max_pool":
        return _plan_max(case)
    if case.op == "max_unpool":
        return _plan_unpool(case)
    return _plan_sum(case)


def _plan_unpool(case: Case) -> Plan:
    n, p = case.spatial_dims, case.params
    if not _native_padding(case):
        return unsupported("max_unpool round-trips PyTorch's own max_pool indices, which needs symmetric "
                           "padding of at most half the kernel")
    pool = dict(kernel_size=p.kernel_size, stride=p.stride, padding=tuple(b for b, _ in p.padding), return_indices=True)
    unpool = dict(kernel_size=p.kernel_size, stride=p.stride, padding=tuple(b for b, _ in p.padding),
                  output_size=p.output_size)
    return Plan("native", f"{FN}.max_unpool{n}d(*{FN}.max_pool{n}d(x, {_kw(**pool)}), {_kw(**unpool)})",
                args={"fn": f"max_pool{n}d", "kwargs": pool, "unpool": (f"max_unpool{n}d", unpool)})


def _native_padding(case: Case) -> bool:
    """PyTorch pads symmetrically and rejects pad > kernel_size // 2 (dilation not counted)."""
    return all(b == a and b <= k // 2 for (b, a), k in zip(case.params.padding, case.params.kernel_size))


def _emulated_pads(case: Case) -> tuple[tuple[int, int], ...]:
    p = case.params
    return semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode)


def _plan_max(case: Case) -> Plan:
    n, p = case.spatial_dims, case.params
    fn = f"max_pool{n}d"
    kwargs = dict(kernel_size=p.kernel_size, stride=p.stride, dilation=p.dilation,
                  return_indices=p.return_indices)
    if _native_padding(case):
        kwargs.update(padding=tuple(b for b, _ in p.padding), ceil_mode=p.ceil_mode)
        return Plan("native", f"{FN}.{fn}(x, {_kw(**kwargs)})", args={"fn": fn, "kwargs": kwargs})
    pads = _emulated_pads(case)
    low = "iinfo.min" if case.input.dtype in INT_DTYPES else "-inf"
    steps: list[Any] = [Pad(pads, -np.inf, f"{low}: PyTorch pads symmetrically, at most half the effective kernel; "
                                          "after-pad also covers ceil-mode windows")]
    if p.return_indices:
        steps.append(Note("index remap: flat index in the padded plane -> flat index in the input plane"))
    kwargs.update(padding=0, ceil_mode=False)
    return Plan("emulated", f"{FN}.{fn}({FN}.pad(x, ..., value={low}), {_kw(**kwargs)})", tuple(steps),
                reason="padding PyTorch's max_pool cannot take (asymmetric or above half the effective kernel)",
                args={"fn": fn, "kwargs": kwargs, "pads": pads})


def _plan_sum(case: Case) -> Plan:
    n, p = case.spatial_dims, case.params
    if case.op == "lp_pool":
        native = all(b == a == 0 for b, a in p.padding) and all(d == 1 for d in p.dilation)
        # lp_pool1d multiplies by kernel_size, so it only works with an int there.
        kernel: Any = p.kernel_size[0] if n == 1 else p.kernel_size
        kwargs: dict[str, Any] = dict(norm_type=p.norm_type, kernel_size=kernel, stride=p.stride,
                                      ceil_mode=p.ceil_mode)
        if native:
            return Plan("native", f"{FN}.lp_pool{n}d(x, {_kw(**kwargs)})",
                        args={"fn": f"lp_pool{n}d", "kwargs": kwargs})
        why = "lp_pool has no padding or dilation"
    else:
        native = (all(d == 1 for d in p.dilation) and _native_padding(case)
                  and not (n == 1 and p.divisor_override is not None))
        kwargs = dict(kernel_size=p.kernel_size, stride=p.stride, padding=tuple(b for b, _ in p.padding),
                      ceil_mode=p.ceil_mode, count_include_pad=p.count_include_pad)
        if n > 1:
            kwargs["divisor_override"] = p.divisor_override
        if native:
            return Plan("native", f"{FN}.avg_pool{n}d(x, {_kw(**kwargs)})",
                        args={"fn": f"avg_pool{n}d", "kwargs": kwargs})
        why = "avg_pool has no dilation, asymmetric padding, padding above half the kernel, or 1-D divisor_override"
    pads = _emulated_pads(case)
    power = f"x.pow({p.norm_type:g})" if case.op == "lp_pool" else "x"
    steps: list[Step] = [
        Pad(pads, 0.0, "zeros contribute nothing to window sums"),
        Note(f"window sums: {FN}.conv{n}d({power} as (N*C, 1, ...), ones{list(p.kernel_size)}, "
             f"stride={list(p.stride)}, dilation={list(p.dilation)})"),
    ]
    if case.op == "lp_pool":
        steps.append(Note(f"result = sums.pow(1/{p.norm_type:g})"))
    elif p.divisor_override is not None:
        steps.append(Note(f"divide by divisor_override={p.divisor_override}"))
    else:
        counted = "padded extent" if p.count_include_pad else "real input"
        steps.append(Note(f"divide by the same convolution of a mask of the {counted} (count_include_pad={p.count_include_pad})"))
    return Plan("emulated", f"{FN}.conv{n}d(...) / divisor", tuple(steps), reason=why,
                args={"fn": "conv_sum", "pads": pads})


def _override(case: Case, override: dict[str, Any]) -> Plan:
    n = case.spatial_dims
    fn = {"max_pool": "max_pool", "avg_pool": "avg_pool", "lp_pool": "lp_pool"}[case.op] + f"{n}d"
    kwargs = dict(override)
    kwargs.setdefault("kernel_size", case.params.kernel_size)
    return Plan("native-override", f"{FN}.{fn}(x, {_kw(**kwargs)})",
                reason="case asks for PyTorch's own parameters instead of the canonical semantics",
                args={"fn": fn, "kwargs": kwargs})


# ---------------------------------------------------------------- execution


def _to_torch(x: np.ndarray, dev: str) -> Any:
    torch = _import()
    if x.dtype.name == "bfloat16":
        # Bit-exact: NumPy has no bfloat16, so go through the raw 16-bit pattern.
        return torch.from_numpy(x.view(np.int16).copy()).view(torch.bfloat16).to(dev)
    return torch.from_numpy(np.ascontiguousarray(x)).to(dev)


def _to_numpy(t: Any) -> np.ndarray:
    torch = _import()
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _device(device: str) -> str:
    return "cuda" if device == "gpu" else "cpu"


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    torch = _import()
    F = torch.nn.functional
    dev = _device(device)
    xt = _to_torch(x, dev)
    if upstream is not None:
        xt.requires_grad_(True)
    clock = Stopwatch()
    args = plan_.args
    with clock.framework():
        out, idx = _forward(torch, F, case, args, xt)
        grad = None
        if upstream is not None:
            up = _to_torch(upstream, dev)
            (grad,) = torch.autograd.grad((out * up).sum(), xt)
        if dev == "cuda":
            torch.cuda.synchronize()
    indices = None
    if idx is not None:
        indices = _to_numpy(idx)
        if "pads" in args:
            indices = semantics.unpad_flat_indices(indices, case.spatial_shape, args["pads"])
    return Outcome(
        output=_to_numpy(out),
        indices=indices,
        grad=None if grad is None else _to_numpy(grad),
        dtype=str(out.dtype).replace("torch.", ""),
        seconds=clock.seconds,
    )


def _forward(torch: Any, F: Any, case: Case, args: dict[str, Any], xt: Any) -> tuple[Any, Any]:
    fn = args["fn"]
    if fn in ("amax", "mean"):
        return getattr(torch, fn)(xt, dim=args["dims"], keepdim=case.params.keepdims), None
    if fn == "conv_sum":
        return _conv_pool(torch, F, case, args["pads"], xt), None
    if "pads" in args:  # emulated max: explicit pad with the lowest value
        low = torch.iinfo(xt.dtype).min if case.input.dtype in INT_DTYPES else float("-inf")
        xt = F.pad(xt, _torch_pads(args["pads"]), value=low)
    result = getattr(F, fn)(xt, **args["kwargs"])
    if "unpool" in args:
        name, kwargs = args["unpool"]
        return getattr(F, name)(*result, **kwargs), None
    if isinstance(result, tuple):
        return result[0], result[1]
    return result, None


def _torch_pads(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """F.pad wants (last_before, last_after, ..., first_before, first_after)."""
    return [v for pair in reversed(pads) for v in pair]


def _conv_pool(torch: Any, F: Any, case: Case, pads: tuple[tuple[int, int], ...], xt: Any) -> Any:
    p, n = case.params, case.spatial_dims
    conv = getattr(F, f"conv{n}d")
    N, C, *spatial = xt.shape
    flat = xt.reshape(N * C, 1, *spatial)
    if case.op == "lp_pool":
        flat = flat.pow(p.norm_type)
    ones = torch.ones((1, 1, *p.kernel_size), dtype=flat.dtype, device=flat.device)
    sums = conv(F.pad(flat, _torch_pads(pads)), ones, stride=p.stride, dilation=p.dilation)
    if case.op == "lp_pool":
        out = sums.pow(1.0 / float(p.norm_type or 2.0))
    elif p.divisor_override is not None:
        out = sums / p.divisor_override
    else:
        counted = semantics.count_mask(tuple(spatial), p.padding, pads, p.count_include_pad)
        mask = torch.from_numpy(counted).to(dtype=flat.dtype, device=flat.device)[None, None]
        out = sums / conv(mask, ones, stride=p.stride, dilation=p.dilation)
    return out.reshape(N, C, *out.shape[2:])

def repro(case: Case, plan_: Plan) -> str:
    """Plain PyTorch code reproducing this result from a NumPy `x_np`."""
    lines = ["import torch", "import torch.nn.functional as F"]
    if case.input.dtype == "bfloat16":
        lines.append("x = torch.from_numpy(x_np.astype(np.float32)).to(torch.bfloat16)")
    else:
        lines.append("x = torch.from_numpy(x_np)")
    args, p = plan_.args, case.params
    call = plan_.call.replace(f"{FN}.", "F.")
    if args.get("fn") == "conv_sum":
        n = case.spatial_dims
        power = f".pow({p.norm_type})" if case.op == "lp_pool" else ""
        lines += [
            f"N, C = x.shape[:2]; flat = x.reshape(N * C, 1, *x.shape[2:]){power}",
            f"ones = torch.ones((1, 1, *{p.kernel_size}), dtype=flat.dtype)",
            f"sums = F.conv{n}d(F.pad(flat, {_torch_pads(args['pads'])}), ones, stride={p.stride}, dilation={p.dilation})",
        ]
        if case.op == "lp_pool":
            lines.append(f"out = sums.pow(1 / {p.norm_type})")
        elif p.divisor_override is not None:
            lines.append(f"out = sums / {p.divisor_override}")
        else:
            lines.append("# divisor: the same convolution over a mask of counted positions (see conversions)")
        lines.append("out = out.reshape(N, C, *out.shape[2:])")
    elif "pads" in args:
        low = "torch.iinfo(x.dtype).min" if case.input.dtype in INT_DTYPES else "float('-inf')"
        lines.append(f"x = F.pad(x, {_torch_pads(args['pads'])}, value={low})")
        lines.append(f"out = F.{args['fn']}(x, {_kw(**args['kwargs'])})")
    else:
        lines.append(f"out = {call}")
    lines.append("print(out)")
    return "\n".join(lines)
