"""ONNX Runtime adapter: a one-node ONNX model per signature (MaxPool, AveragePool, LpPool,
GlobalMaxPool, GlobalAveragePool, MaxUnpool), checked with onnx.checker and run on ORT's CPU
execution provider (CUDA for device gpu, when onnxruntime-gpu is installed).

ONNX pooling takes explicit begin/end `pads`, `dilations`, `ceil_mode` and `count_include_pad`,
so the canonical parameters map onto node attributes one for one (native). Emulated, only where
ONNX lacks a parameter: `divisor_override` (explicit zero Pad, AveragePool over whole windows, one
Mul), adaptive pooling whose bins are one uniform window (k = s = L/out), and the (N, C) output of
global pooling without keepdims (a reshape). Unsupported: types an op's ONNX type constraint does
not list, non-integer Lp norms (ONNX's `p` is an int), uneven adaptive bins, and attributes the
opset predates. ONNX indices are flat over N*C*spatial; they are remapped to the harness's
per-plane convention as a logged conversion. Where ORT departs from the ONNX spec (pads >= kernel
refused at session creation, NaN dropped by position, lowest-float empty windows) the error or the
numbers stand as ORT gives them: the cases declare them.

The plan carries the graph as data (nodes, attributes, initializers); execute builds the script
from it once per signature (harness.adapters.script) and runs it: the repro is that script.
Registry variants (`onnxruntime-opset18`) pass an older opset as the backend.
Operator spec: https://onnx.ai/onnx/operators/ (MaxPool, AveragePool, LpPool, MaxUnpool).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness import semantics
from harness.adapters import script
from harness.adapters.base import Outcome, Probe, Stopwatch
from harness.plan import IndexRemap, Note, Pad, Plan, Reshape, Step, unsupported
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, Case

# The newest opset onnxruntime 1.31.1 implements: a model importing opset 27 is refused at session
# creation ("ONNX Runtime only *guarantees* support for models stamped with official released onnx
# opset versions. Opset 27 is under development"). tests/adapters/test_onnxruntime.py checks it.
DEFAULT_OPSET = 26
SPEC = "https://onnx.ai/onnx/operators/onnx__{}.html"
ELEM = {"float16": "FLOAT16", "bfloat16": "BFLOAT16", "float32": "FLOAT", "float64": "DOUBLE",
        "int8": "INT8", "uint8": "UINT8", "int32": "INT32", "int64": "INT64"}
FLOATS = ("float16", "bfloat16", "float32", "float64")
# The T type constraint of each pooling op: MaxPool alone takes 8-bit integers, none takes int32 /
# int64, and bfloat16 is listed from opset 22 on.
TYPES = {"MaxPool": (*FLOATS, "int8", "uint8")}
BFLOAT16_SINCE = 22
# onnxruntime's CPU provider implements fewer types than the spec allows (session creation answers
# NOT_IMPLEMENTED): no bfloat16 pooling kernel at all, double for MaxPool only. Pinned by
# tests/adapters/test_onnxruntime.py, which builds every (op, type) and compares.
CPU_KERNELS = {"MaxPool": ("float16", "float32", "float64", "int8", "uint8")}
CPU_DEFAULT = ("float16", "float32")


def type_gap(op: str, dtype: str, opset: int) -> str:
    """Why `op` cannot run on `dtype` at `opset` on ORT's CPU provider ('' when it can)."""
    allowed = tuple(t for t in TYPES.get(op, FLOATS) if t != "bfloat16" or opset >= BFLOAT16_SINCE)
    if dtype not in allowed:
        return f"ONNX {op} (opset {opset}) takes {', '.join(allowed)} tensors, not {dtype} ({SPEC.format(op)})"
    if dtype not in CPU_KERNELS.get(op, CPU_DEFAULT):
        return (f"onnxruntime's CPU provider has no {op} kernel for {dtype} (NOT_IMPLEMENTED at session "
                f"creation; it has {', '.join(CPU_KERNELS.get(op, CPU_DEFAULT))})")
    return ""
_ort: Any = None


def _import() -> Any:
    global _ort
    if _ort is None:
        import onnx  # noqa: F401 - the script needs it; a missing package is a probe error
        import onnxruntime

        onnxruntime.set_default_logger_severity(4)  # errors come back as exceptions; no stderr copy
        _ort = onnxruntime
    return _ort


def probe() -> Probe:
    ort = _import()
    import onnx

    devices = {"cpu": "CPUExecutionProvider"}
    if "CUDAExecutionProvider" in ort.get_available_providers():  # onnxruntime-gpu only
        devices["gpu"] = "CUDAExecutionProvider"
    return Probe(versions={"onnxruntime": ort.__version__, "onnx": onnx.__version__}, devices=devices)


# ---------------------------------------------------------------- planning (no onnx import)


def opset_of(backend: str | None) -> int:
    return int(backend.removeprefix("opset")) if backend else DEFAULT_OPSET


def _pads(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """ONNX pads: every dim's begin, then every dim's end."""
    return [b for b, _ in pads] + [a for _, a in pads]


def _call(nodes: list[tuple[str, list[str], list[str], dict[str, Any]]], opset: int) -> str:
    text = " -> ".join(f"{op}({', '.join(f'{k}={v!r}' for k, v in attrs.items())})" for op, _, _, attrs in nodes)
    return f"{text} [opset {opset}, onnxruntime]"


def plan(case: Case, backend: str | None = None) -> Plan:
    opset, p = opset_of(backend), case.params
    op = {"max_pool": "MaxPool", "avg_pool": "AveragePool", "lp_pool": "LpPool", "max_unpool": "MaxPool",
          "global_max_pool": "GlobalMaxPool", "global_avg_pool": "GlobalAveragePool",
          "adaptive_max_pool": "MaxPool", "adaptive_avg_pool": "AveragePool"}[case.op]
    dtype = case.input.dtype
    if case.grad:
        return unsupported("ONNX Runtime runs inference only: no gradients (its training API is a separate build)")
    gap = type_gap(op, dtype, opset) or (type_gap("MaxUnpool", dtype, opset) if case.op == "max_unpool" else "")
    if gap:
        return unsupported(gap)
    if case.op in GLOBAL_OPS:
        return _plan_global(case, op, opset)
    if case.op in ADAPTIVE_OPS:
        return _plan_adaptive(case, op, opset)
    attrs: dict[str, Any] = {"kernel_shape": list(p.kernel_size), "strides": list(p.stride)}
    if case.op == "max_unpool":
        return _plan_unpool(case, attrs, opset)
    if any(d > 1 for d in p.dilation):
        since = {"AveragePool": 19, "LpPool": 18}.get(op, 10)
        if opset < since:
            return unsupported(f"{op} has dilations only from opset {since}; this adapter runs opset {opset}")
        attrs["dilations"] = list(p.dilation)
    if op == "LpPool":
        if opset < 18 and p.ceil_mode:
            return unsupported(f"LpPool has ceil_mode only from opset 18; this adapter runs opset {opset}")
        if not float(p.norm_type or 2.0).is_integer():
            return unsupported(f"ONNX LpPool's p is an integer; norm_type {p.norm_type:g} has no ONNX form "
                               f"({SPEC.format('LpPool')})")
        attrs["p"] = int(p.norm_type or 2)
    if op == "AveragePool" and p.divisor_override is not None:
        return _plan_divisor(case, attrs, opset)
    attrs.update(pads=_pads(p.padding), ceil_mode=int(p.ceil_mode))
    if op == "AveragePool":
        attrs["count_include_pad"] = int(p.count_include_pad)
    outputs, steps = ["y"], []
    if op == "MaxPool":
        attrs["storage_order"] = 0  # row-major indices
        if p.return_indices:
            outputs.append("indices")
            steps.append(_REMAP)
    nodes = [(op, ["x"], outputs, attrs)]
    return Plan("native", _call(nodes, opset), tuple(steps),
                args={"opset": opset, "nodes": nodes, "outputs": outputs, "initializers": []})


_REMAP = IndexRemap("ONNX flat index over N*C*spatial -> flat per (N, C) plane (minus (n*C + c) * plane size)")


def _plan_global(case: Case, op: str, opset: int) -> Plan:
    nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = [(op, ["x"], ["y"], {})]
    steps: tuple[Step, ...] = ()
    if not case.params.keepdims:
        steps = (Reshape("(N, C)", "ONNX global pooling keeps the spatial dims as size 1"),)
    return Plan("native", _call(nodes, opset), steps,
                args={"opset": opset, "nodes": nodes, "outputs": ["y"], "initializers": []})


def _plan_adaptive(case: Case, op: str, opset: int) -> Plan:
    p, spatial = case.params, case.spatial_shape
    size = p.output_size or spatial
    if not all(semantics.adaptive_is_uniform(L, o) for L, o in zip(spatial, size)):
        return unsupported("ONNX has no adaptive pooling, and these bins are uneven (no one window covers them)")
    k = [L // o for L, o in zip(spatial, size)]
    attrs: dict[str, Any] = {"kernel_shape": k, "strides": k}
    outputs, steps = ["y"], []
    if op == "MaxPool" and p.return_indices:
        attrs["storage_order"] = 0
        outputs.append("indices")
        steps.append(_REMAP)
    nodes = [(op, ["x"], outputs, attrs)]
    return Plan("emulated", _call(nodes, opset), tuple(steps),
                reason="ONNX has no adaptive pooling; every dim divides, so one window k = s = L/out",
                args={"opset": opset, "nodes": nodes, "outputs": outputs, "initializers": []})


def _plan_unpool(case: Case, attrs: dict[str, Any], opset: int) -> Plan:
    p = case.params
    assert p.output_size is not None
    pool = {**attrs, "pads": _pads(p.padding), "storage_order": 0}
    unpool = {**attrs, "pads": _pads(p.padding)}
    shape = [*case.input.shape[:2], *p.output_size]
    nodes = [("MaxPool", ["x"], ["pooled", "flat"], pool),
             ("MaxUnpool", ["pooled", "flat", "output_shape"], ["y"], unpool)]
    return Plan("native", _call(nodes, opset) + f" with output_shape {shape}",
                args={"opset": opset, "nodes": nodes, "outputs": ["y"],
                      "initializers": [("output_shape", "int64", [len(shape)], shape)]})


def _plan_divisor(case: Case, attrs: dict[str, Any], opset: int) -> Plan:
    """divisor_override: zero Pad (the windows the case defines), AveragePool over whole windows
    (divisor prod(k)), then one Mul by prod(k) / divisor_override."""
    p = case.params
    pads = semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation,
                                    p.ceil_mode)
    size = math.prod(p.kernel_size)
    scale = size / float(p.divisor_override or 1)
    n = case.spatial_dims
    nodes = [("Pad", ["x", "pads"], ["padded"], {}),
             ("AveragePool", ["padded"], ["mean"], attrs),
             ("Mul", ["mean", "scale"], ["y"], {})]
    steps: tuple[Step, ...] = (
        Pad(pads, 0.0, "zeros add nothing to window sums; after-pad also makes ceil-mode windows"),
        Note(f"divisor_override={p.divisor_override}: AveragePool over whole windows divides by {size}; "
             f"Mul by {size}/{p.divisor_override}"),
    )
    zero = [0, 0]
    return Plan("emulated", _call(nodes, opset), steps, reason="ONNX AveragePool has no divisor_override",
                args={"opset": opset, "nodes": nodes, "outputs": ["y"],
                      "initializers": [("pads", "int64", [2 * (n + 2)], zero + [b for b, _ in pads] + zero
                                        + [a for _, a in pads]),
                                       ("scale", case.input.dtype, [], [scale])],
                      "step_of": {"Pad": 1, "Mul": 2}})


# ---------------------------------------------------------------- the script


def source(case: Case, plan_: Plan, device: str = "cpu") -> script.Script:
    """The script that builds the model, checks it, opens the session and defines run()."""
    args = plan_.args
    elem = ELEM[case.input.dtype]
    step_of: dict[str, int] = args.get("step_of", {})
    lines = ["import numpy as np", "import onnx", "import onnxruntime as ort", "from onnx import TensorProto, helper",
             "", "nodes = []"]
    for op, inputs, outputs, attrs in args["nodes"]:
        kw = "".join(f", {k}={v!r}" for k, v in attrs.items())
        line = f"nodes.append(helper.make_node({op!r}, {inputs!r}, {outputs!r}{kw}))"
        # A conversion's block is its marker and the lines up to the next blank line.
        lines += ["", script.marker(step_of[op], plan_.steps[step_of[op] - 1]), line, ""] if op in step_of else [line]
    lines += ["", "initializers = []"]
    for name, dtype, dims, values in args["initializers"]:
        lines.append(f"initializers.append(helper.make_tensor({name!r}, TensorProto.{ELEM[dtype]}, {dims!r}, "
                     f"{values!r}))")
    rank = len(case.input.shape)
    outs = [f"helper.make_tensor_value_info({o!r}, TensorProto.{'INT64' if o == 'indices' else elem}, "
            f"[None] * {rank})" for o in args["outputs"]]
    provider = "CUDAExecutionProvider" if device == "gpu" else "CPUExecutionProvider"
    lines += [
        "",
        f"inputs = [helper.make_tensor_value_info('x', TensorProto.{elem}, {list(case.input.shape)})]",
        f"outputs = [{', '.join(outs)}]",
        "graph = helper.make_graph(nodes, 'pool', inputs, outputs, initializers)",
        f"opsets = [helper.make_opsetid('', {args['opset']})]",
        "model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))",
        "onnx.checker.check_model(model, full_check=True)",
        f"session = ort.InferenceSession(model.SerializeToString(), providers=[{provider!r}])",
        "",
        "",
        "def run(x_np):",
        f"    {', '.join(args['outputs'])}{',' if len(args['outputs']) == 1 else ''} = session.run(None, {{'x': x_np}})",
    ]
    lines += _post(case, plan_)
    lines.append(f"    return y, {'indices' if 'indices' in args['outputs'] else 'None'}")
    return script.Script("\n".join(lines) + "\n")


def _post(case: Case, plan_: Plan) -> list[str]:
    """NumPy code for the steps after the session: index remap, reshape."""
    lines = []
    for i, step in enumerate(plan_.steps, 1):
        if isinstance(step, IndexRemap):
            plane = math.prod(case.spatial_shape)
            lines += [f"    {script.marker(i, step)}",
                      "    offsets = np.arange(indices.shape[0] * indices.shape[1]).reshape("
                      f"indices.shape[:2] + (1,) * (indices.ndim - 2)) * {plane}",
                      "    indices = np.where(indices >= 0, indices - offsets, indices)  # -1: a window of padding only",
                      ""]
        elif isinstance(step, Reshape):
            lines += [f"    {script.marker(i, step)}", "    y = y.reshape(y.shape[:2])", ""]
    return lines


# ---------------------------------------------------------------- execution


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    _import()
    clock = Stopwatch()
    # Building the model and its session is ORT's cost of a new signature, as compiling is JAX's.
    with clock.framework():
        run = script.runner(source(case, plan_, device).setup)
        out, indices = run(x)
    return Outcome(output=out, indices=indices, dtype=out.dtype.name, seconds=clock.seconds)


def repro(case: Case, plan_: Plan) -> str:
    return source(case, plan_).text
