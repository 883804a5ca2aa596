"""ONNX's own pooling node tests, read from the installed onnx package as plain data (this module
imports onnx, so it lives with the adapters; harness/onnx_import.py turns the data into cases).

Where the package ships the generated files (`onnx/backend/test/data/node/test_*pool*/`: model.onnx,
test_data_set_0/input_N.pb, output_N.pb) they are read; the wheels of onnx 1.23 ship only the
generators those files are made from (`onnx/backend/test/case/node/maxpool.py`, ...), so then the
same test cases are built in memory with onnx.backend.test.case.node.collect_testcases(), which is
what ONNX's `backend-test-tools generate-data` writes out. The tolerance is each test case's own
(rtol 1e-3, atol 1e-7 for node tests: onnx/backend/test/case/node/__init__.py, used by
onnx/backend/test/runner's assert_similar_outputs).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

POOL_OPS = ("MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool", "MaxUnpool")


@dataclass(frozen=True)
class NodeTest:
    name: str  # test_maxpool_2d_pads
    op_type: str
    attrs: dict[str, Any]
    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    opset: int
    rtol: float
    atol: float
    source: str  # where it was read from


def onnx_version() -> str:
    import onnx

    return str(onnx.__version__)


def read(data_dir: Path | None = None) -> list[NodeTest]:
    """Every single-node pooling test, sorted by name."""
    import onnx

    root = data_dir or Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
    dirs = sorted(root.glob("test_*pool*")) if root.is_dir() else []
    tests = [_from_dir(d) for d in dirs] if dirs else _generated()
    return sorted((t for t in tests if t is not None), key=lambda t: t.name)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        out[a.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _from_dir(path: Path) -> NodeTest | None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path / "model.onnx"))
    if len(model.graph.node) != 1 or model.graph.node[0].op_type not in POOL_OPS:
        return None
    data = path / "test_data_set_0"

    def arrays(prefix: str) -> tuple[np.ndarray, ...]:
        files = sorted(data.glob(f"{prefix}_*.pb"), key=lambda f: int(f.stem.split("_")[1]))
        return tuple(numpy_helper.to_array(onnx.load_tensor(str(f))) for f in files)

    node = model.graph.node[0]
    return NodeTest(path.name, node.op_type, _attrs(node), arrays("input"), arrays("output"), _opset(model),
                    1e-3, 1e-7, str(path))


def _generated() -> list[NodeTest]:
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # other ops' generators warn about their own overflows
        cases = node_cases.collect_testcases()
    out = {}
    for tc in cases:
        if tc.model is None:
            continue
        nodes = tc.model.graph.node
        if len(nodes) != 1 or nodes[0].op_type not in POOL_OPS or not tc.data_sets:
            continue
        inputs, outputs = tc.data_sets[0]
        out[tc.name] = NodeTest(tc.name, nodes[0].op_type, _attrs(nodes[0]), tuple(inputs), tuple(outputs),
                                _opset(tc.model), float(tc.rtol), float(tc.atol),
                                f"onnx/backend/test/case/node/{nodes[0].op_type.lower()}.py (generated)")
    return list(out.values())
