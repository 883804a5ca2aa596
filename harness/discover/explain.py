"""Explain: which parameters of a shrunk case its divergence needs.

Each parameter the case has (dims, N, C, every per-dim length and window parameter, the
flags, padding mode, dtype, gradient, input generator, magnitude and special values) is set to
a few other valid values, and each variant is run on the cluster's framework. A parameter is
*pinned* when no variant keeps the signature (the divergence needs that value), *free* when
every variant keeps it, and *depends* otherwise (the values that keep it and those that lose
it are reported).
"""

from __future__ import annotations

from typing import Any

from harness.discover import configs
from harness.discover.configs import Raw
from harness.spec import ADAPTIVE_OPS, DTYPES, FLOAT_DTYPES, GLOBAL_OPS, INT_DTYPES, Case

Variant = tuple[str, str, Raw]  # (parameter, the value tried, the configuration)


def _label(name: str, d: int, n: int) -> str:
    return name if n == 1 else f"{name}[{d}]"


def current(case: Case) -> dict[str, str]:
    """Each parameter's value in the case, as text (what `pinned` reports)."""
    p, n = case.params, case.spatial_dims
    out = {"dims": str(n), "N": str(case.input.shape[0]), "C": str(case.input.shape[1]),
           "dtype": case.input.dtype, "grad": str(case.grad).lower(),
           "input.generator": str(case.input.gen.get("kind", "values")), "input.magnitude": f"{configs.scale(case):g}"}
    for d, L in enumerate(case.spatial_shape):
        out[_label("length", d, n)] = str(L)
    if case.op in GLOBAL_OPS:
        out["keepdims"] = str(p.keepdims).lower()
    elif case.op in ADAPTIVE_OPS:
        for d, o in enumerate(p.output_size or ()):
            out[_label("output_size", d, n)] = str(o)
        if case.op == "adaptive_max_pool":
            out["return_indices"] = str(p.return_indices).lower()
    else:
        for d in range(n):
            out[_label("kernel_size", d, n)] = str(p.kernel_size[d])
            out[_label("stride", d, n)] = str(p.stride[d])
            out[_label("padding", d, n)] = str(list(p.padding[d]))
            out[_label("dilation", d, n)] = str(p.dilation[d])
        out["padding_mode"] = p.padding_mode
        out["ceil_mode"] = str(p.ceil_mode).lower()
        if case.op == "avg_pool":
            out["count_include_pad"] = str(p.count_include_pad).lower()
            out["divisor_override"] = str(p.divisor_override)
        if case.op == "max_pool":
            out["return_indices"] = str(p.return_indices).lower()
        if case.op == "lp_pool":
            out["norm_type"] = f"{p.norm_type:g}"
    for i, inj in enumerate(case.input.inject):
        out[f"input.inject[{i}]"] = configs.special_name(inj.value) or f"{inj.value:g}"
    return out


def _add_dim(raw: Raw, case: Case) -> Raw:
    """A copy of the last spatial dim appended (its length and every per-dim parameter)."""
    shape = list(case.input.shape)
    new = configs.with_shape(raw, shape + [shape[-1]])
    for inj in new["input"].get("inject", ()):
        if "at" in inj:
            inj["at"] = [pos + [pos[-1]] for pos in inj["at"]]
    params = new.get("params", {})
    for name, value in params.items():
        if name in ("kernel_size", "stride", "dilation", "output_size", "padding") and isinstance(value, list):
            params[name] = value + [value[-1]]
    return new


def _sizes(raw: Raw, case: Case) -> list[Variant]:
    out: list[Variant] = []
    n, shape, p = case.spatial_dims, list(case.input.shape), case.params
    if n < 3:
        out.append(("dims", str(n + 1), _add_dim(raw, case)))
    if n > 1:
        out.append(("dims", str(n - 1), configs.drop_dim(raw, case, n - 1)))
    for axis, label, other in ((0, "N", 2), (1, "C", 3)):
        value = other if shape[axis] == 1 else 1
        out.append((label, str(value), configs.with_shape(raw, shape[:axis] + [value] + shape[axis + 1 :])))
    for d, L in enumerate(case.spatial_shape):
        for v in sorted({L - 1, L + 1} - {0}):
            out.append((_label("length", d, n), str(v), configs.with_shape(raw, shape[: 2 + d] + [v] + shape[3 + d :])))
    names = ("output_size",) if case.op in ADAPTIVE_OPS else () if case.op in GLOBAL_OPS else (
        "kernel_size", "stride", "dilation")
    for name in names:
        values = list(getattr(p, name) or ())
        for d, v in enumerate(values):
            for w in sorted({v - 1, v + 1} - {0}):
                out.append((_label(name, d, n), str(w), configs.with_param(raw, name, configs.replaced(values, d, w))))
    if case.op not in GLOBAL_OPS and case.op not in ADAPTIVE_OPS:
        pads = configs.explicit_pads(case)
        for d, (b, a) in enumerate(pads):
            for pair in ([0, 0], [b + 1, a + 1], [b, a + 1]):
                if pair != [b, a]:
                    out.append((_label("padding", d, n), str(pair), configs.with_param(raw, "padding", configs.replaced(pads, d, pair))))
        for mode in ("same", "valid"):
            if p.padding_mode != mode:
                out.append(("padding_mode", mode, configs.with_param(raw, "padding", mode)))
    return out


def _flags(raw: Raw, case: Case) -> list[Variant]:
    out: list[Variant] = []
    p, op = case.params, case.op
    flags = {"keepdims": p.keepdims} if op in GLOBAL_OPS else {}
    if op in ("max_pool", "avg_pool", "lp_pool"):
        flags["ceil_mode"] = p.ceil_mode
    if op == "avg_pool":
        flags["count_include_pad"] = p.count_include_pad
    if op in ("max_pool", "adaptive_max_pool"):
        flags["return_indices"] = p.return_indices
    for name, value in flags.items():
        out.append((name, str(not value).lower(), configs.with_param(raw, name, not value)))
    if op == "avg_pool":
        divisors: list[int | None] = [1, 3] if p.divisor_override is None else [None, p.divisor_override + 1]
        for v in divisors:
            out.append(("divisor_override", str(v), configs.with_param(raw, "divisor_override", v)))
    if op == "lp_pool":
        for norm in (1.0, 2.0, 3.0):
            if norm != p.norm_type:
                out.append(("norm_type", f"{norm:g}", configs.with_param(raw, "norm_type", norm)))
    for dtype in DTYPES:
        if dtype in INT_DTYPES and configs.scale(case) >= 2**31:
            continue  # an integer input cannot hold the magnitude: its values would be the cast's garbage
        if dtype != case.input.dtype:
            new = configs.clone(raw)
            new["input"]["dtype"] = dtype
            out.append(("dtype", dtype, new))
    if case.input.dtype in FLOAT_DTYPES and op != "max_unpool":
        new = configs.clone(raw)
        new["grad"] = not case.grad
        out.append(("grad", str(not case.grad).lower(), new))
    return out


def _inputs(raw: Raw, case: Case) -> list[Variant]:
    out: list[Variant] = []
    gen = raw["input"]["generator"]
    seed = gen.get("seed", 0)
    for kind, body in (("randn", {}), ("uniform", {"low": -1.0, "high": 1.0}), ("arange", {}), ("constant", {"value": 1.0})):
        if kind != gen["kind"]:
            out.append(("input.generator", kind, configs.with_input(raw, generator={"kind": kind, "seed": seed, **body})))
    big = configs.scale(case)
    factor = 1e-3 if big >= configs.LARGE else 1e3
    scaled = {k: v * factor for k, v in gen.items() if k in ("mean", "std", "low", "high", "value", "step")}
    if gen["kind"] == "randint":
        scaled = {k: int(v) for k, v in scaled.items()}
    if scaled:
        out.append(("input.magnitude", f"x{factor:g}", configs.with_input(raw, generator={**gen, **scaled})))
    inject = raw["input"].get("inject", [])
    for i, inj in enumerate(inject):
        out.append((f"input.inject[{i}]", "none", configs.with_input(raw, inject=[x for j, x in enumerate(inject) if j != i])))
        for value in ("nan", "inf", "-inf"):
            if value != str(inj["value"]):
                out.append((f"input.inject[{i}]", value, configs.with_input(raw, inject=configs.replaced(inject, i, {**inj, "value": value}))))
    return out


def variants(raw: Raw, case: Case) -> list[tuple[str, str, Raw, Case]]:
    """Valid variants of every parameter of the case (parameter, value, raw, case)."""
    out = []
    seen = {configs.key(raw)}
    for name, value, new in _sizes(raw, case) + _flags(raw, case) + _inputs(raw, case):
        built = configs.try_build(new)
        if built is None:
            continue
        new = configs.canonical(new, built)
        k = configs.key(new)
        if k not in seen:
            seen.add(k)
            out.append((name, value, new, built))
    return out


def summarize(values: dict[str, str], tried: list[tuple[str, str, bool]]) -> dict[str, Any]:
    """pinned {parameter: value}, free [parameters], depends {parameter: {value, kept, lost}}
    from (parameter, value tried, signature kept) triples."""
    kept: dict[str, list[str]] = {}
    lost: dict[str, list[str]] = {}
    for name, value, same in tried:
        (kept if same else lost).setdefault(name, []).append(value)
    pinned, free, depends = {}, [], {}
    for name in dict.fromkeys(n for n, _, _ in tried):
        if name not in kept:
            pinned[name] = values.get(name, "?")
        elif name not in lost:
            free.append(name)
        else:
            depends[name] = {"value": values.get(name, "?"), "kept": kept[name], "lost": lost[name]}
    return {"pinned": pinned, "free": free, "depends": depends}
