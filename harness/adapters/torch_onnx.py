"""torch.onnx export adapter: the PyTorch call a user would write (the torch adapter's plan), exported
with torch.onnx.export (torch 2.13's default exporter, the dynamo one, which builds the graph with
onnxscript), and the exported graph run on ONNX Runtime's CPU provider.

What the exporter made of each parameter is what this adapter reports: the result's conversions
end with "exported as Pow -> AveragePool -> ...", the exported graph's node types in order, read
from the model after export. An export failure is an `error` carrying the exporter's message.
Exports are cached per signature (harness.adapters.script: the script is the implementation and
the repro). The torch adapter's emulations by convolution (dilated / asymmetric averages) are not
a PyTorch pooling call, so there is nothing to export: unsupported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.adapters import onnxruntime, pytorch, script
from harness.adapters.base import Outcome, Probe, Stopwatch
from harness.plan import IndexRemap, Plan, Step, unsupported
from harness.spec import INT_DTYPES, Case

_mods: Any = None
# The opset of the models torch 2.13's exporter writes (its torchlib is written at 18 and the
# model converted up to 20); tests/adapters/test_torch_onnx.py checks it.
EXPORT_OPSET = 20


def _import() -> Any:
    global _mods
    if _mods is None:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401 - the dynamo exporter needs it; missing, this is a probe error
        import torch

        onnxruntime.set_default_logger_severity(4)
        _mods = (torch, onnx, onnxruntime)
    return _mods


def probe() -> Probe:
    torch, onnx, ort = _import()
    import onnxscript

    return Probe(versions={"torch": str(torch.__version__), "onnx": onnx.__version__,
                           "onnxscript": onnxscript.__version__, "onnxruntime": ort.__version__},
                 devices={"cpu": "CPUExecutionProvider"})


# ---------------------------------------------------------------- planning (no torch import)


def plan(case: Case, backend: str | None = None) -> Plan:
    if case.grad:
        return unsupported("the exported graph runs in ONNX Runtime, which runs inference only: no gradients")
    base = pytorch.plan(case)
    if not base.supported:
        return base
    fn = str(base.args.get("fn", ""))
    onnx_op = "MaxPool" if "max_pool" in fn else "AveragePool" if ("avg_pool" in fn or "lp_pool" in fn) else ""
    gap = onnxruntime.type_gap(onnx_op, case.input.dtype, EXPORT_OPSET) if onnx_op else ""
    if gap and case.input.dtype not in ("int32", "int64"):
        # int32 / int64 are exported all the same (an invalid model ORT refuses): left to fail, declared.
        return unsupported(f"the exporter emits {onnx_op} at opset {EXPORT_OPSET}: {gap}")
    if base.args.get("fn") == "conv_sum":
        return unsupported(f"PyTorch has no pooling call for this ({base.reason}); the torch adapter's "
                           "convolution emulation is not what a user would export")
    steps: list[Step] = []
    if "pads" in base.args:
        steps.append(base.steps[0])  # the explicit -inf pad, done in the exported module (F.pad)
        if case.params.return_indices:
            steps.append(IndexRemap("flat index in the padded plane -> flat index in the input plane"))
    call = f"torch.onnx.export({base.call.replace('torch.nn.functional.', 'F.')}) -> onnxruntime CPU"
    return Plan(base.mode, call, tuple(steps), reason=base.reason, args=base.args)


# ---------------------------------------------------------------- the script


def _body(case: Case, plan_: Plan) -> list[str]:
    """forward() of the exported module: the torch adapter's call, as source."""
    args, p = plan_.args, case.params
    fn = args["fn"]
    if fn in ("amax", "mean"):
        return [f"        return torch.{fn}(x, dim={args['dims']!r}, keepdim={p.keepdims!r})"]
    call = f"F.{fn}(x, {pytorch._kw(**args['kwargs'])})"
    if "unpool" in args:
        name, kwargs = args["unpool"]
        return [f"        return F.{name}(*{call}, {pytorch._kw(**kwargs)})"]
    lines = []
    if "pads" in args:
        low = "torch.iinfo(x.dtype).min" if case.input.dtype in INT_DTYPES else "float('-inf')"
        lines += [f"        {script.marker(1, plan_.steps[0])}",
                  f"        x = F.pad(x, {pytorch._torch_pads(args['pads'])}, value={low})", ""]
    return lines + [f"        return {call}"]


def source(case: Case, plan_: Plan) -> script.Script:
    shape = list(case.input.shape)
    two = plan_.args.get("kwargs", {}).get("return_indices", False) and "unpool" not in plan_.args
    lines = ["import os", "import tempfile", "", "import numpy as np", "import onnx", "import onnxruntime as ort", "import torch",
             "import torch.nn.functional as F", "", "", "class Pool(torch.nn.Module):", "    def forward(self, x):",
             *_body(case, plan_), "", "",
             f"example = torch.zeros({shape}, dtype=torch.{case.input.dtype})",  # torch names every case dtype alike
             "with tempfile.TemporaryDirectory() as folder:  # (torch 2.13 deprecates exporting to a BytesIO)",
             "    path = os.path.join(folder, 'pool.onnx')",
             "    torch.onnx.export(Pool().eval(), (example,), path)  # the default exporter of this torch",
             "    model = onnx.load(path)",
             "exported = [node.op_type for node in model.graph.node]",
             "session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])",
             "", "", "def run(x_np):",
             "    results = session.run(None, {session.get_inputs()[0].name: x_np})",
             "    y = results[0]",
             f"    indices = {'results[1]' if two else 'None'}"]
    for i, step in enumerate(plan_.steps, 1):
        if isinstance(step, IndexRemap):
            lines += _unpad_code(case, plan_, i, step)
    lines.append("    return y, indices")
    return script.Script("\n".join(lines) + "\n")


def _unpad_code(case: Case, plan_: Plan, index: int, step: Step) -> list[str]:
    """Indices of a max pool over the explicitly padded input, back to the input plane (NumPy)."""
    pads = plan_.args["pads"]
    spatial = case.spatial_shape
    padded = tuple(L + b + a for L, (b, a) in zip(spatial, pads))
    return [f"    {script.marker(index, step)}",
            f"    coords = [c - b for c, b in zip(np.unravel_index(indices, {padded}), {[b for b, _ in pads]})]",
            f"    inside = np.logical_and.reduce([(c >= 0) & (c < n) for c, n in zip(coords, {spatial})])",
            f"    indices = np.where(inside, np.ravel_multi_index(coords, {spatial}, mode='clip'), -1)", ""]


# ---------------------------------------------------------------- execution


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    _import()
    setup = source(case, plan_).setup
    clock = Stopwatch()
    # The export (and the session) is the cost of a new signature on this path, as compiling is JAX's.
    with clock.framework():
        run = script.runner(setup)
        out, indices = run(x)
    exported = run.__globals__["exported"]
    return Outcome(output=out, indices=indices, dtype=out.dtype.name, seconds=clock.seconds,
                   executed=(f"exported as {' -> '.join(exported)}",))


def repro(case: Case, plan_: Plan) -> str:
    return source(case, plan_).text
