"""Stage 2: validate raw case mappings, fill PyTorch's defaults, build frozen Cases.

Every problem becomes one CaseError (file, line, case id, field); all are collected before
raising so that `pool-parity validate` lists them together.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from harness import expectations, semantics
from harness.adapters import DEVICES, registry
from harness.checks import _Bad, _bool, _Checker, _is_int, _names, _number, _show
from harness.errors import CaseError, CaseErrors
from harness.load import Node, RawCase, suggest
from harness.spec import (
    ADAPTIVE_OPS,
    DTYPES,
    GLOBAL_OPS,
    INT_DTYPES,
    OPS,
    Case,
    Injection,
    InputSpec,
    PoolParams,
    Source,
)

CASE_KEYS = (
    "id", "description", "op", "input", "params", "matrix", "grad", "upstream",
    "frameworks", "devices", "tolerance", "tags", "expect", "native",
)
INPUT_KEYS = ("shape", "dtype", "values", "generator", "inject", "layout")
GENERATORS: dict[str, tuple[str, ...]] = {
    "randn": ("mean", "std"),
    "uniform": ("low", "high"),
    "randint": ("low", "high"),
    "arange": ("start", "step"),
    "constant": ("value",),
}
PARAMS_FOR_OP: dict[str, tuple[str, ...]] = {
    "max_pool": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool": (
        "kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad",
        "divisor_override",
    ),
    "lp_pool": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "norm_type"),
    "global_max_pool": ("keepdims",),
    "global_avg_pool": ("keepdims",),
    "adaptive_max_pool": ("output_size", "return_indices"),
    "adaptive_avg_pool": ("output_size",),
    "max_unpool": ("kernel_size", "stride", "padding", "output_size"),
}
ALL_PARAMS = tuple(dict.fromkeys(p for ps in PARAMS_FOR_OP.values() for p in ps))
# Values the float64 reference may hold for one case at once (its input, every window's taps, its
# output): 2 GiB. A larger case would take the machine's memory (or be killed for it) mid-run.
MAX_VALUES = 2**28


def normalise(raws: Iterable[RawCase], run_seed: int = 0) -> list[Case]:
    """Validate and normalise; duplicate ids across files are errors naming both places."""
    cases: list[Case] = []
    errors: list[CaseError] = []
    seen: dict[str, tuple[str, int]] = {}  # id: where (not the RawCase: its parse is let go)
    said: set[tuple[str, int | None, str | None, str]] = set()
    _SHARED.clear()
    for raw in raws:
        check = _Checker(raw)
        try:
            case = _case(check, raw, run_seed)
        except _Bad:
            case = None
        # A problem in the part of a matrix case every expansion shares is said once, not once a combination.
        errors.extend(e for e in check.errors if (e.path, e.line, e.field, e.message) not in said)
        said.update((e.path, e.line, e.field, e.message) for e in check.errors)
        if case is None or check.errors:
            continue
        first = seen.get(case.id)
        if first is not None:
            errors.append(
                CaseError(raw.path, raw.id_line, case.id, "id", f"duplicate id, first defined at {first[0]}:{first[1]}")
            )
            continue
        seen[case.id] = (raw.path, raw.id_line)
        cases.append(case)
    _SHARED.clear()
    if errors:
        raise CaseErrors(errors)
    return cases


# Equal values of a load held once: a grid's cases repeat their parameters, shapes and names,
# and a large suite is held whole (a generated case costs about 1.4 KB this way, 2.4 KB without).
_SHARED: dict[Any, Any] = {}


def _shared(value: Any) -> Any:
    try:
        return _SHARED.setdefault(value, value)
    except TypeError:  # unhashable (a generator option given as a list): kept as it is
        return value


def _case(check: _Checker, raw: RawCase, run_seed: int) -> Case | None:
    node = raw.node
    check.unknown_keys(node, CASE_KEYS, "")
    cid = node.get("id")
    if not isinstance(cid, str) or not cid.strip():
        check.fail(node, "id", "id", f"must be a non-empty string, got {_show(cid)}")
        raise _Bad
    problem = _unsafe_id(cid)
    if problem:
        check.fail(node, "id", "id", problem)
    op = node.get("op")
    if op not in OPS:
        check.fail(node, "op", "op", f"must be one of {', '.join(OPS)}, got {_show(op)}{suggest(str(op), OPS)}")
        raise _Bad
    inp_node = check.mapping(node, "input", "input", required=True)
    params_node = check.mapping(node, "params", "params")
    if params_node is None:  # (an empty mapping is falsy but keeps its line)
        params_node = Node()
        params_node.line = node.line
    if inp_node is None:
        raise _Bad
    seed = zlib.crc32(f"{run_seed}:{cid}".encode())
    inp = _input(check, inp_node, seed)
    if inp is None:
        raise _Bad
    params = _params(check, params_node, op, inp)
    if params is not None:
        _size(check, inp_node, op, inp, params)
    grad = _bool(check, node, "grad", "grad", False)
    if grad and inp.dtype in INT_DTYPES:
        check.fail(node, "grad", "grad", f"gradients need a floating dtype, input is {inp.dtype}")
    if grad and op == "max_unpool":
        check.fail(node, "grad", "grad", "gradients are not compared for max_unpool")
    frameworks = _names(check, node, "frameworks", tuple(registry()))
    devices = _names(check, node, "devices", DEVICES)
    return Case(
        id=cid,
        op=_shared(op),
        input=inp,
        params=_shared(params if params is not None else PoolParams()),
        source=Source(_shared(raw.path), raw.id_line),
        description=_shared(_string(check, node, "description")),
        grad=grad,
        upstream=_shared(_choice(check, node, "upstream", ("random", "ones"), "random")),
        frameworks=frameworks,
        devices=devices,
        tolerance=_tolerance(check, node),
        tags=_shared(_names(check, node, "tags", None) or ()),
        expect=expectations.parse(check, node, dict(raw.matrix_values)),
        native=_native(check, node),
        yaml_text=raw.yaml_text,
    )


ID_PUNCTUATION = "-_.+="
MAX_ID = 200


def _unsafe_id(cid: str) -> str | None:
    """Why an id is not a safe name, or None. Ids become file names (repro scripts, discovered
    cases), pytest ids and HTML anchors, so they are letters, digits and -_.+= only: no path
    separators or '..', no spaces, brackets or quotes, no control or bidi characters."""
    bad = sorted({c for c in cid if not (c.isalnum() or c in ID_PUNCTUATION)})
    if bad:
        shown = ", ".join(repr(c) if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}" for c in bad)
        return f"must be letters, digits and {' '.join(ID_PUNCTUATION)} only (a safe file name and test id), has {shown}"
    if ".." in cid or cid[0] in ".-":
        return "must not contain '..' or start with '.' or '-' (a safe file name and test id)"
    if len(cid) > MAX_ID:
        return f"must be at most {MAX_ID} characters, has {len(cid)}"
    return None


def _size(check: _Checker, node: Node, op: str, inp: InputSpec, params: PoolParams) -> None:
    """Refuse a case whose reference would not fit in MAX_VALUES float64 values."""
    planes, spatial = inp.shape[0] * inp.shape[1], inp.shape[2:]
    if op in GLOBAL_OPS:
        taps = math.prod(spatial)
    elif op in ADAPTIVE_OPS:
        assert params.output_size is not None
        taps = math.prod(o * min(L, -(-L // o) + 1) for L, o in zip(spatial, params.output_size))
    else:
        outs = [semantics.pooled_length(L, k, s, pad, d, params.ceil_mode) for L, k, s, pad, d in
                zip(spatial, params.kernel_size, params.stride, params.padding, params.dilation)]
        taps = math.prod(outs) * math.prod(params.kernel_size) + (math.prod(params.output_size) if params.output_size else 0)
    values = planes * max(math.prod(spatial), taps)
    if values > MAX_VALUES:
        check.fail(node, "shape", "input.shape",
                   f"too large: the float64 reference would hold {values:,} values ({values * 8 / 2**30:.1f} GiB) "
                   f"at once, the limit is {MAX_VALUES:,} (2 GiB); use a smaller shape")


def _string(check: _Checker, node: Node, key: str) -> str:
    value = node.get(key, "")
    if not isinstance(value, str):
        check.fail(node, key, key, f"must be a string, got {_show(value)}")
        return ""
    return value


def _choice(check: _Checker, node: Node, key: str, choices: tuple[str, ...], default: str) -> str:
    value = node.get(key, default)
    if value not in choices:
        check.fail(node, key, key, f"must be one of {', '.join(choices)}, got {_show(value)}")
        return default
    return str(value)


def _tolerance(check: _Checker, node: Node) -> tuple[float, float] | None:
    tol = check.mapping(node, "tolerance", "tolerance")
    if tol is None:
        return None
    check.unknown_keys(tol, ("rtol", "atol"), "tolerance.")
    out = []
    for key in ("rtol", "atol"):
        value = _number(tol.get(key, 0.0))
        if value is None or not value >= 0 or math.isinf(value):
            check.fail(tol, key, f"tolerance.{key}", f"must be a finite number >= 0, got {_show(tol.get(key))}")
            value = 0.0
        out.append(value)
    return out[0], out[1]


def _native(check: _Checker, node: Node) -> dict[str, dict[str, Any]]:
    nat = check.mapping(node, "native", "native")
    if nat is None:
        return {}
    names = tuple(registry())
    out = {}
    for fw, body in nat.items():
        if fw not in names:
            check.fail(nat, fw, f"native.{fw}", f"unknown framework{suggest(str(fw), names)}")
        elif not isinstance(body, Node):
            check.fail(nat, fw, f"native.{fw}", "must be a mapping of framework arguments")
        else:
            out[str(fw)] = dict(body)
    return out


def _input(check: _Checker, node: Node, default_seed: int) -> InputSpec | None:
    check.unknown_keys(node, INPUT_KEYS, "input.")
    dtype = node.get("dtype", "float32")
    if dtype not in DTYPES:
        check.fail(node, "dtype", "input.dtype", f"must be one of {', '.join(DTYPES)}, got {_show(dtype)}{suggest(str(dtype), DTYPES)}")
        return None
    layout = node.get("layout", "channels_first")
    if layout not in ("channels_first", "channels_last"):
        check.fail(node, "layout", "input.layout", f"must be channels_first or channels_last, got {_show(layout)}")
        return None
    shape = node.get("shape")
    if not isinstance(shape, list) or not all(_is_int(s) for s in shape):
        check.fail(node, "shape", "input.shape", f"must be a list of ints, got {_show(shape)}")
        return None
    if not 3 <= len(shape) <= 5:
        check.fail(node, "shape", "input.shape",
                   f"must be N, C and 1-3 spatial dims (3 to 5 entries), got {len(shape)}")
        return None
    if any(s < 1 for s in shape):
        check.fail(node, "shape", "input.shape", f"every dim must be >= 1, got {shape}")
        return None
    written = tuple(shape)
    shape_cf = (written[0], written[-1], *written[1:-1]) if layout == "channels_last" else written
    has_values, gen = "values" in node, node.get("generator")
    if has_values == (gen is not None):
        check.fail(node, "values" if has_values else "shape", "input",
                   "give exactly one of 'values' or 'generator'")
        return None
    values, gen_items, seed = None, None, default_seed
    if has_values:
        values = _values(check, node, written, dtype, layout)
        if values is None:
            return None
    else:
        gen_items, seed = _generator(check, node, dtype, default_seed)
        if gen_items is None:
            return None
    inject = _inject(check, node, written, dtype, layout)
    return InputSpec(_shared(shape_cf), _shared(dtype), values, _shared(gen_items), inject, _shared(layout), seed)


def _values(check: _Checker, node: Node, shape: tuple[int, ...], dtype: str, layout: str) -> tuple[float, ...] | None:
    flat: list[float] = []

    def walk(v: Any, depth: int) -> bool:
        if depth == len(shape):
            num = _number(v)
            if num is None:
                return False
            flat.append(num)
            return True
        return isinstance(v, list) and len(v) == shape[depth] and all(walk(x, depth + 1) for x in v)

    if not walk(node["values"], 0):
        check.fail(node, "values", "input.values",
                   f"must be nested lists of numbers matching shape {list(shape)}")
        return None
    if dtype in INT_DTYPES and any(not (math.isfinite(v) and v.is_integer()) for v in flat):
        check.fail(node, "values", "input.values", f"{dtype} input needs integer values")
        return None
    too_big = _misfits(flat, dtype)
    if too_big is not None:
        check.fail(node, "values", "input.values", f"{too_big:g} does not fit {_range_text(dtype)}")
        return None
    if layout == "channels_last":
        import numpy as np

        arr = np.asarray(flat).reshape(shape)
        flat = list(np.moveaxis(arr, -1, 1).ravel())
    return tuple(float(v) for v in flat)


def _generator(check: _Checker, node: Node, dtype: str, default_seed: int) -> tuple[tuple[tuple[str, Any], ...] | None, int]:
    gen = check.mapping(node, "generator", "input.generator")
    if gen is None:
        return None, default_seed
    kind = gen.get("kind")
    if kind not in GENERATORS:
        check.fail(gen, "kind", "input.generator.kind",
                   f"must be one of {', '.join(GENERATORS)}, got {_show(kind)}{suggest(str(kind), tuple(GENERATORS))}")
        return None, default_seed
    check.unknown_keys(gen, ("kind", "seed", *GENERATORS[kind]), "input.generator.")
    seed = gen.get("seed", default_seed)
    if not _is_int(seed) or seed < 0:
        check.fail(gen, "seed", "input.generator.seed", f"must be an int >= 0, got {_show(seed)}")
        return None, default_seed
    items: dict[str, Any] = {"kind": kind}
    for key in GENERATORS[kind]:
        if key in gen:
            value = _number(gen[key])
            if value is None:
                check.fail(gen, key, f"input.generator.{key}", f"must be a number, got {_show(gen[key])}")
                return None, seed
            items[key] = value
    if kind in ("uniform", "randint") and items.get("low", 0.0) >= items.get("high", 1.0 if kind == "uniform" else 10.0):
        check.fail(gen, "high", "input.generator.high", "must be greater than low")
    if kind == "randn" and items.get("std", 1.0) < 0:
        check.fail(gen, "std", "input.generator.std", "must be >= 0")
    drawn = _generated_range(kind, items, node.get("shape"))
    too_big = _misfits(drawn, dtype)
    if too_big is not None:
        what = "6 standard deviations reach" if kind == "randn" else "draws"
        check.fail(gen, "kind", "input.generator", f"{what} {too_big:g}, which does not fit {_range_text(dtype)}")
    return tuple(sorted(items.items())), int(seed)


def _generated_range(kind: str, items: dict[str, Any], shape: Any) -> list[float]:
    """The extremes a generator draws (randn: six standard deviations either side of the mean)."""
    if kind == "uniform":
        return [items.get("low", 0.0), items.get("high", 1.0)]
    if kind == "randint":
        return [items.get("low", 0.0), items.get("high", 10.0) - 1]
    if kind == "constant":
        return [items.get("value", 0.0)]
    if kind == "arange":
        size = math.prod(shape) if isinstance(shape, list) and all(_is_int(s) for s in shape) else 1
        return [items.get("start", 0.0), items.get("start", 0.0) + items.get("step", 1.0) * (size - 1)]
    mean, std = items.get("mean", 0.0), items.get("std", 1.0)
    return [mean - 6 * std, mean + 6 * std]


def _misfits(values: list[float], dtype: str) -> float | None:
    """The first finite value that the input dtype cannot hold (a float that would round to an
    infinity, an integer outside the type's range), or None."""
    import numpy as np

    from harness.inputs import np_dtype

    arr = np.asarray(values, dtype=np.float64)
    dt = np_dtype(dtype)
    finite = np.isfinite(arr)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        bad = finite & ((arr < info.min) | (arr > info.max))
    else:
        with np.errstate(over="ignore"):
            bad = finite & ~np.isfinite(arr.astype(dt))
    return float(arr[bad][0]) if bad.any() else None


def _range_text(dtype: str) -> str:
    import numpy as np

    from harness.inputs import np_dtype

    dt = np_dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return f"{dtype} (range {info.min} to {info.max})"
    import ml_dtypes

    return f"{dtype} (largest finite {float(ml_dtypes.finfo(dt).max):g}): it would become inf"


def _inject(check: _Checker, node: Node, shape: tuple[int, ...], dtype: str, layout: str) -> tuple[Injection, ...]:
    raw = node.get("inject")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        check.fail(node, "inject", "input.inject", "must be a list of {value, at | fraction}")
        return ()
    out = []
    for i, item in enumerate(raw):
        field = f"input.inject[{i}]"
        if not isinstance(item, Node):
            check.fail(node, "inject", field, "must be a mapping {value, at | fraction}")
            continue
        check.unknown_keys(item, ("value", "at", "fraction"), f"{field}.")
        value = _number(item.get("value"))
        if value is None:
            check.fail(item, "value", f"{field}.value", f"must be a number or nan/inf/-inf, got {_show(item.get('value'))}")
            continue
        if dtype in INT_DTYPES and not (math.isfinite(value) and value.is_integer()):
            check.fail(item, "value", f"{field}.value", f"{dtype} input cannot hold {item.get('value')}")
            continue
        if _misfits([value], dtype) is not None:
            check.fail(item, "value", f"{field}.value", f"{value:g} does not fit {_range_text(dtype)}")
            continue
        at, fraction = item.get("at"), item.get("fraction")
        if (at is None) == (fraction is None):
            check.fail(item, "value", field, "give exactly one of 'at' or 'fraction'")
            continue
        positions: list[tuple[int, ...]] = []
        if at is not None:
            ok = isinstance(at, list) and all(
                isinstance(p, list) and len(p) == len(shape) and all(_is_int(c) and 0 <= c < n for c, n in zip(p, shape))
                for p in at
            )
            if not ok:
                check.fail(item, "at", f"{field}.at", f"must be a list of in-bounds positions of length {len(shape)}")
                continue
            for p in at:
                positions.append((p[0], p[-1], *p[1:-1]) if layout == "channels_last" else tuple(p))
        elif not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction <= 1:
            check.fail(item, "fraction", f"{field}.fraction", f"must be a number in (0, 1], got {_show(fraction)}")
            continue
        share = None if at is not None else float(fraction)  # type: ignore[arg-type]  # checked above
        out.append(Injection(value, tuple(positions), share))
    return tuple(out)


def _per_dim(check: _Checker, node: Node, key: str, n: int, default: tuple[int, ...] | None, minimum: int) -> tuple[int, ...] | None:
    if key not in node:
        return default
    value = node[key]
    values = [value] * n if _is_int(value) else value
    if not isinstance(values, list) or len(values) != n or not all(_is_int(v) for v in values):
        check.fail(node, key, f"params.{key}", f"must be an int or a list of {n} ints, got {_show(value)}")
        return None
    for v in values:
        if v < minimum:
            check.fail(node, key, f"params.{key}", f"must be >= {minimum}, got {v}")
            return None
    return tuple(values)


def _padding(check: _Checker, node: Node, n: int) -> tuple[tuple[tuple[int, int], ...] | None, str]:
    value = node.get("padding", 0)
    if value in ("same", "valid"):
        return None, str(value)
    bad = f"must be an int, {n} ints, {n} [before, after] pairs, 'same' or 'valid', got {_show(value)}"
    if _is_int(value):
        pads = [(value, value)] * n
    elif isinstance(value, list) and len(value) == n and all(_is_int(v) for v in value):
        pads = [(v, v) for v in value]
    elif isinstance(value, list) and len(value) == n and all(
        isinstance(p, list) and len(p) == 2 and all(_is_int(v) for v in p) for p in value
    ):
        pads = [(p[0], p[1]) for p in value]
    else:
        check.fail(node, "padding", "params.padding", bad)
        return (), "explicit"
    if any(b < 0 or a < 0 for b, a in pads):
        check.fail(node, "padding", "params.padding", f"must be >= 0, got {_show(value)}")
        return (), "explicit"
    return tuple(pads), "explicit"


def _params(check: _Checker, node: Node, op: str, inp: InputSpec) -> PoolParams | None:
    n = len(inp.shape) - 2
    allowed = PARAMS_FOR_OP[op]
    for key in node:
        if key not in allowed:
            hint = f"not a parameter of {op}" if key in ALL_PARAMS else f"unknown key{suggest(str(key), ALL_PARAMS)}"
            check.fail(node, str(key), f"params.{key}", hint)
    before = len(check.errors)
    bools = {k: _bool(check, node, k, f"params.{k}", d) for k, d in
             (("ceil_mode", False), ("return_indices", False), ("keepdims", False))}
    if op in GLOBAL_OPS:
        return PoolParams(keepdims=bools["keepdims"])
    if op in ADAPTIVE_OPS:
        return _adaptive(check, node, inp, bools["return_indices"])
    if "kernel_size" not in node:
        check.fail(node, "kernel_size", "params.kernel_size", f"is required for {op}")
        return None
    kernel = _per_dim(check, node, "kernel_size", n, None, 1)
    stride = _per_dim(check, node, "stride", n, kernel, 1)
    dilation = _per_dim(check, node, "dilation", n, (1,) * n, 1)
    pads, mode = _padding(check, node, n)
    if kernel is None or stride is None or dilation is None or len(check.errors) > before:
        return None
    spatial = inp.shape[2:]
    if mode == "same":
        pads = tuple(semantics.same_padding(L, k, s, d) for L, k, s, d in zip(spatial, kernel, stride, dilation))
    elif mode == "valid":
        pads = ((0, 0),) * n
    assert pads is not None
    # 'same' is TensorFlow's padding, so its average excludes the pads unless told otherwise.
    cip = _bool(check, node, "count_include_pad", "params.count_include_pad", mode != "same")
    divisor = node.get("divisor_override")
    if divisor is not None and (not _is_int(divisor) or divisor < 1):
        check.fail(node, "divisor_override", "params.divisor_override", f"must be an int >= 1, got {_show(divisor)}")
    norm = None
    if op == "lp_pool":
        norm = _number(node.get("norm_type"))
        if norm is None or not (0 < norm < math.inf):
            check.fail(node, "norm_type", "params.norm_type", f"lp_pool needs a finite norm_type > 0, got {_show(node.get('norm_type'))}")
    for L, k, s, pad, d in zip(spatial, kernel, stride, pads, dilation):
        out = semantics.pooled_length(L, k, s, pad, d, bools["ceil_mode"])
        if out < 1:
            eff = semantics.effective_kernel(k, d)
            check.fail(node, "kernel_size", "params.kernel_size",
                       f"window of extent {eff} does not fit input length {L} with padding {list(pad)}: output would be empty")
            return None
    params = PoolParams(
        kernel_size=kernel, stride=stride, padding=pads, padding_mode=mode, dilation=dilation,
        ceil_mode=bools["ceil_mode"], count_include_pad=cip, divisor_override=divisor,
        return_indices=bools["return_indices"] or op == "max_unpool", norm_type=norm,
    )
    return _unpool(check, node, inp, params) if op == "max_unpool" else params


def _unpool(check: _Checker, node: Node, inp: InputSpec, params: PoolParams) -> PoolParams | None:
    """max_unpool: pool with return_indices, then scatter into output_size (default PyTorch's).
    Indices are flat in the input plane and scattered flat into the output plane (as PyTorch
    does), so the output plane must hold the largest index a window can pick."""
    spatial, n = inp.shape[2:], len(inp.shape) - 2
    pooled = [semantics.pooled_length(L, k, s, pad, 1, False)
              for L, k, s, pad in zip(spatial, params.kernel_size, params.stride, params.padding)]
    sizes = tuple(semantics.unpool_length(o, k, s, pad)
                  for o, k, s, pad in zip(pooled, params.kernel_size, params.stride, params.padding))
    if "output_size" in node:
        given = _per_dim(check, node, "output_size", n, None, 1)
        if given is None:
            return None
        sizes = given
    last = [min(L - 1, (o - 1) * s - pad[0] + k - 1)
            for L, o, k, s, pad in zip(spatial, pooled, params.kernel_size, params.stride, params.padding)]
    top = sum(pos * semantics.prod(tuple(spatial[d + 1:])) for d, pos in enumerate(last))
    if top >= semantics.prod(sizes):
        check.fail(node, "output_size", "params.output_size",
                   f"unpool output {list(sizes)} cannot hold flat index {top} of the {list(spatial)} input plane")
        return None
    return replace(params, output_size=sizes)


def _adaptive(check: _Checker, node: Node, inp: InputSpec, return_indices: bool) -> PoolParams | None:
    n = len(inp.shape) - 2
    if "output_size" not in node:
        check.fail(node, "output_size", "params.output_size", "is required for adaptive pooling")
        return None
    value = node["output_size"]
    values = [value] * n if _is_int(value) else value
    if not isinstance(values, list) or len(values) != n or not all(v is None or _is_int(v) for v in values):
        check.fail(node, "output_size", "params.output_size", f"must be an int or a list of {n} ints (or null), got {_show(value)}")
        return None
    sizes = tuple(L if v is None else v for v, L in zip(values, inp.shape[2:]))
    if any(v < 1 for v in sizes):
        check.fail(node, "output_size", "params.output_size", f"must be >= 1, got {_show(value)}")
        return None
    return PoolParams(output_size=sizes, return_indices=return_indices)
