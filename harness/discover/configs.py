"""Discovery's configurations: a case as the plain mapping a case file holds (`Raw`), made into a
`Case` by the loader's own normaliser, so that every configuration discovery runs, shrinks or
writes out passes exactly the validation a hand-written case does.

A Raw holds per-dim parameters as lists and leaves out every parameter at its default
(`canonical`), so "set a parameter to its default" is "delete its key", and the case files it
becomes read like ones a person wrote.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson

from harness.errors import CaseErrors
from harness.load import Node, RawCase
from harness.normalise import normalise
from harness.spec import GLOBAL_OPS, WINDOWED_OPS, Case

Raw = dict[str, Any]
SOURCE = "<discover>"
# An input whose generator parameters reach this magnitude counts as "large" (a feature).
LARGE = 1e3


def _node(value: Any) -> Any:
    """Plain mappings -> the loader's Nodes (line 0: a generated case has no file lines)."""
    if isinstance(value, dict):
        node = Node({k: _node(v) for k, v in value.items()})
        node.line = 0
        return node
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def build(raw: Raw) -> Case:
    """The normalised Case; raises CaseErrors exactly as a case file would."""
    return normalise([RawCase(SOURCE, _node(raw), 0, "")])[0]


def try_build(raw: Raw) -> Case | None:
    try:
        return build(raw)
    except CaseErrors:
        return None


def key(raw: Raw) -> bytes:
    """Identity of a configuration (everything but its id and frameworks)."""
    return orjson.dumps({k: v for k, v in raw.items() if k not in ("id", "frameworks")}, option=orjson.OPT_SORT_KEYS)


def clone(raw: Raw) -> Raw:
    return copy.deepcopy(raw)


def canonical(raw: Raw, case: Case) -> Raw:
    """`raw` without the parameters its case holds at their defaults (the case is unchanged)."""
    out = clone(raw)
    params, p = out.setdefault("params", {}), case.params
    drop = []
    if "stride" in params and tuple(params["stride"]) == p.kernel_size:
        drop.append("stride")
    if "dilation" in params and all(d == 1 for d in p.dilation):
        drop.append("dilation")
    if p.padding_mode == "explicit" and all(b == a == 0 for b, a in p.padding):
        drop.append("padding")
    if "count_include_pad" in params and p.count_include_pad == (p.padding_mode != "same"):
        drop.append("count_include_pad")
    for name in ("ceil_mode", "return_indices", "keepdims"):
        if params.get(name) is False:
            drop.append(name)
    if params.get("divisor_override") is None:
        drop.append("divisor_override")
    if case.op == "max_unpool" and "output_size" in params:
        default = try_build({**out, "params": {k: v for k, v in params.items() if k != "output_size"}})
        if default is not None and default.params.output_size == p.output_size:
            drop.append("output_size")
    for name in drop:
        params.pop(name, None)
    if not params:
        out.pop("params")
    if not out.get("grad"):
        out.pop("grad", None)
    if not out["input"].get("inject"):
        out["input"].pop("inject", None)
    return out


def scale(case: Case) -> float:
    """The input's magnitude: what its generator is asked for (not the values an arange
    reaches), or the largest finite literal value."""
    spec = case.input
    if spec.values is not None:
        finite = [abs(v) for v in spec.values if math.isfinite(v)]
        return max(finite, default=0.0)
    gen = spec.gen
    values = [abs(float(gen[k])) for k in ("mean", "std", "low", "high", "value", "start", "step") if k in gen]
    return max(values, default=1.0)


def special_name(value: Any) -> str | None:
    """'nan', '+inf' or '-inf' for a special value (as a number or as a case file writes it)."""
    if isinstance(value, str):
        value = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}.get(value.lower(), 0.0)
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return None


def specials(case: Case) -> frozenset[str]:
    """Special values in the input ('nan', '+inf', '-inf'), injected or written."""
    values = [inj.value for inj in case.input.inject] + list(case.input.values or ())
    return frozenset(name for name in map(special_name, values) if name is not None)


def features(case: Case) -> frozenset[str]:
    """The qualitative features of a configuration that name a cause: what is not at its
    default (dims above one, dtype other than float32, gradients, each non-default parameter by
    kind, special values, large magnitudes). Lengths, kernel and stride sizes are left out: one
    cause shrinks to different sizes from different starts (docs/discover.md)."""
    f: set[str] = set()
    p, op = case.params, case.op
    if case.spatial_dims > 1:
        f.add(f"dims={case.spatial_dims}")
    if case.input.dtype != "float32":
        f.add(f"dtype={case.input.dtype}")
    if case.grad:
        f.add("grad")
    if op in WINDOWED_OPS or op == "max_unpool":
        if p.ceil_mode:
            f.add("ceil_mode")
        if p.padding_mode == "same":
            f.add("padding=same")
        elif not p.symmetric_padding:
            f.add("padding=asymmetric")
        elif any(b for b, _ in p.padding):
            f.add("padding")
        if any(d > 1 for d in p.dilation):
            f.add("dilation")
    if op == "avg_pool":
        if p.count_include_pad != (p.padding_mode != "same"):
            f.add(f"count_include_pad={p.count_include_pad}")
        if p.divisor_override is not None:
            f.add("divisor_override")
    if op in ("max_pool", "adaptive_max_pool") and p.return_indices:
        f.add("return_indices")
    if op == "lp_pool" and p.norm_type != 2:
        f.add(f"norm_type={p.norm_type:g}")
    if op in GLOBAL_OPS and p.keepdims:
        f.add("keepdims")
    f.update(specials(case))
    if scale(case) >= LARGE:
        f.add("large")
    return frozenset(f)


def _compact(value: Any) -> Any:
    """[3, 3] -> 3 and [[1, 1], [1, 1]] -> 1 in a case file: equal per-dim values written once."""
    if isinstance(value, list) and value and all(v == value[0] for v in value):
        first = value[0]
        if isinstance(first, list) and len(first) == 2 and first[0] == first[1]:
            return first[0]
        if not isinstance(first, list):
            return first
    return value


def written(raw: Raw) -> Raw:
    """The mapping as a case file writes it: per-dim parameters compacted where equal."""
    out = clone(raw)
    params = out.get("params", {})
    for name in ("kernel_size", "stride", "dilation", "padding", "output_size"):
        if name in params:
            params[name] = _compact(params[name])
    return out


# ---------------------------------------------------------------- edits (each returns a new Raw)

PER_DIM = ("kernel_size", "stride", "dilation", "output_size")

def replaced(items: list[Any], i: int, item: Any) -> list[Any]:
    return items[:i] + [item] + items[i + 1 :]


def explicit_pads(case: Case) -> list[list[int]]:
    return [list(p) for p in case.params.padding]


def with_shape(raw: Raw, shape: list[int], drop: int | None = None) -> Raw:
    """raw with a new input shape (and dim `drop`, an index into shape, removed): explicit
    special-value positions follow, those out of bounds go."""
    new = clone(raw)
    new["input"]["shape"] = shape
    injections = []
    for inj in new["input"].get("inject", ()):
        if "at" in inj:
            at = [[c for i, c in enumerate(pos) if i != drop] for pos in inj["at"]]
            inj["at"] = [pos for pos in at if all(c < n for c, n in zip(pos, shape))]
            if not inj["at"]:
                continue
        injections.append(inj)
    new["input"]["inject"] = injections
    return new


def with_param(raw: Raw, name: str, value: Any) -> Raw:
    new = clone(raw)
    new.setdefault("params", {})[name] = value
    return new


def with_input(raw: Raw, **changes: Any) -> Raw:
    new = clone(raw)
    new["input"].update(changes)
    if not new["input"].get("inject"):
        new["input"].pop("inject", None)
    return new


def drop_dim(raw: Raw, case: Case, d: int) -> Raw:
    shape = list(case.input.shape)
    new = with_shape(raw, shape[: 2 + d] + shape[3 + d :], drop=2 + d)
    params = new.get("params", {})
    for name in (*PER_DIM, "padding"):
        if isinstance(params.get(name), list):
            params[name] = params[name][:d] + params[name][d + 1 :]
    return new


def fold_dim(raw: Raw, case: Case, d: int) -> Raw:
    """Spatial dim d folded into dim d - 1: lengths, kernels, strides and output sizes multiply
    (the other per-dim values of d - 1 stay). Exact for global pooling, a guess elsewhere that
    keeps the taps per window and the windows' count."""
    shape = list(case.input.shape)
    a, b = 1 + d, 2 + d  # indices into shape of dims d - 1 and d
    folded = shape[:a] + [shape[a] * shape[b]] + shape[b + 1:]
    new = clone(raw)
    new["input"]["shape"] = folded
    for inj in new["input"].get("inject", ()):
        if "at" in inj:
            inj["at"] = [pos[:a] + [pos[a] * shape[b] + pos[b]] + pos[b + 1:] for pos in inj["at"]]
    params = new.get("params", {})
    p = case.params
    for name in ("kernel_size", "stride", "output_size"):
        values = list(getattr(p, name) or ())
        if values and (name in params or name == "stride" and "kernel_size" in params):
            params[name] = values[: d - 1] + [values[d - 1] * values[d]] + values[d + 1:]
    for name in ("padding", "dilation"):
        if isinstance(params.get(name), list):
            params[name] = params[name][:d] + params[name][d + 1:]
    return new


def reset(raw: Raw, case: Case, keep: frozenset[str]) -> Raw | None:
    """raw with every feature (features()) not in `keep` set to its default: dims dropped to
    keep's (or one), dtype to keep's or float32, gradient off, the flags, padding and dilation to
    their defaults, other special values removed, a large magnitude to a plain randn input.
    None when dropping dims leaves no valid case."""
    extra = features(case) - keep
    raw = clone(raw)
    dims = next((int(f.split("=")[1]) for f in keep if f.startswith("dims=")), 1)
    while case.spatial_dims > dims:
        raw = drop_dim(raw, case, case.spatial_dims - 1)
        built = try_build(raw)
        if built is None:
            return None
        case = built
    params = raw.get("params", {})
    for f in extra:
        name = f.partition("=")[0]
        if name == "dtype":
            raw["input"]["dtype"] = next((k.split("=")[1] for k in keep if k.startswith("dtype=")), "float32")
        elif name == "grad":
            raw.pop("grad", None)
        elif name.startswith("padding"):
            params.pop("padding", None)
        elif name == "norm_type":
            params["norm_type"] = 2.0
        elif name in ("ceil_mode", "dilation", "count_include_pad", "divisor_override", "return_indices", "keepdims"):
            params.pop(name, None)
        elif name in ("nan", "+inf", "-inf"):
            raw["input"]["inject"] = [inj for inj in raw["input"].get("inject", ()) if special_name(inj["value"]) != name]
        elif name == "large":
            raw["input"]["generator"] = {"kind": "randn", "seed": raw["input"]["generator"].get("seed", 0)}
    if not raw["input"].get("inject"):
        raw["input"].pop("inject", None)
    return raw


def halved(raw: Raw, case: Case) -> Raw:
    """Every spatial length, kernel, stride, padding and output size halved at once (at least
    1; padding at least 0)."""
    new = with_shape(raw, list(case.input.shape[:2]) + [max(1, L // 2) for L in case.spatial_shape])
    params, p = new.setdefault("params", {}), case.params
    for name in ("kernel_size", "stride", "output_size"):
        values = getattr(p, name)
        if values and (name in params or name == "kernel_size"):
            params[name] = [max(1, v // 2) for v in values]
    if isinstance(params.get("padding"), list):
        params["padding"] = [[b // 2, a // 2] for b, a in p.padding]
    return new
