"""`pool-parity import-onnx`: ONNX's own pooling node tests -> a case file, so that ONNX's
conformance data runs through every adapter.

Each node test's attributes map onto the canonical parameters (explicit begin/end pads; auto_pad
SAME_UPPER / SAME_LOWER / VALID become the pads they stand for; ONNX's defaults, stride 1 and
count_include_pad 0, are written out). Inputs up to EMBED values are written as ONNX's own values;
larger ones as a seeded randn of the same shape.
A test the harness cannot express gets a comment at the top of the file saying why. On a
regeneration, the `expect:` of each case already in the file is kept (declared divergences are
written by hand; the rest is generated). tests/test_import_onnx.py checks that the reference
agrees with ONNX's expected outputs on every test that is expressed, at ONNX's own tolerance.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from harness import semantics
from harness.errors import HarnessError
from harness.spec import DTYPES

EMBED = 1024  # input values written out literally
OPS = {"MaxPool": "max_pool", "AveragePool": "avg_pool", "LpPool": "lp_pool", "GlobalMaxPool": "global_max_pool",
       "GlobalAveragePool": "global_avg_pool"}
NOT_EXPRESSED = {
    "GlobalLpPool": "the harness has no global Lp pooling op",
    "MaxUnpool": "ONNX's MaxUnpool tests feed pooled values and indices; the harness's max_unpool pools its own "
                 "input first (its round trip is in cases/indices.yaml and cases/onnx.yaml)",
}


def _pads(t: Any, spatial: tuple[int, ...], kernel: list[int], strides: list[int],
          dilations: list[int]) -> list[list[int]]:
    auto = t.attrs.get("auto_pad", "NOTSET")
    n = len(spatial)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [list(semantics.same_padding(L, k, s, d)) for L, k, s, d in zip(spatial, kernel, strides, dilations)]
        # SAME_UPPER puts the odd element after (TensorFlow's SAME), SAME_LOWER before.
        return pads if auto == "SAME_UPPER" else [[a, b] for b, a in pads]
    if auto == "VALID":
        return [[0, 0]] * n
    flat = list(t.attrs.get("pads", [0] * (2 * n)))
    return [[flat[d], flat[d + n]] for d in range(n)]


def to_case(t: Any, embed: float = EMBED) -> tuple[dict[str, Any] | None, str]:
    """(case mapping, note) for a node test, or (None, why it cannot be expressed)."""
    if t.op_type in NOT_EXPRESSED:
        return None, NOT_EXPRESSED[t.op_type]
    x = t.inputs[0]
    if x.dtype.name not in DTYPES:
        return None, f"input dtype {x.dtype.name} is not a harness dtype"
    op, n, notes = OPS[t.op_type], x.ndim - 2, []
    params: dict[str, Any] = {}
    if op.startswith("global"):
        params["keepdims"] = True  # ONNX global pooling keeps the spatial dims
    else:
        kernel = list(t.attrs["kernel_shape"])
        strides = list(t.attrs.get("strides", [1] * n))  # ONNX's default stride is 1, not the kernel
        dilations = list(t.attrs.get("dilations", [1] * n))
        params.update(kernel_size=kernel, stride=strides, padding=_pads(t, x.shape[2:], kernel, strides, dilations),
                      ceil_mode=bool(t.attrs.get("ceil_mode", 0)))
        if any(d > 1 for d in dilations):
            params["dilation"] = dilations
        if op == "avg_pool":
            params["count_include_pad"] = bool(t.attrs.get("count_include_pad", 0))  # ONNX's default: 0
        if op == "lp_pool":
            p = int(t.attrs.get("p", 2))
            params["norm_type"] = p
            if p % 2 and (x < 0).any():
                x = np.abs(x)
                notes.append(f"input |x|: ONNX's LpPool takes |x|^{p}, the reference (PyTorch's formula) x^{p}; on "
                             "|x| both give ONNX's expected output")
            if p > 2:
                notes.append(f"held to ONNX's tolerance: float32 sums of x^{p} drift past the default rtol 1e-5")
        if op == "max_pool" and len(t.outputs) > 1:
            if t.attrs.get("storage_order", 0) == 0:
                params["return_indices"] = True
            else:
                notes.append("indices not compared: storage_order=1 (column-major) has no harness form")
    inp: dict[str, Any] = {"shape": list(x.shape), "dtype": x.dtype.name}
    if x.size <= embed:
        inp["values"] = _values(x)
    else:
        gen: dict[str, Any] = {"kind": "randint" if x.dtype.kind in "iu" else "randn"}
        if (x >= 0).all() and gen["kind"] == "randn":  # |x| above: keep the input nonnegative
            gen = {"kind": "uniform", "low": 0.0, "high": float(x.max())}
        inp["generator"] = {**gen, "seed": zlib.crc32(t.name.encode())}
        notes.append(f"input: a seeded {gen['kind']} of ONNX's shape (ONNX's own {x.size} values are too many to "
                     "write here)")
    attrs = ", ".join(f"{k}={v}" for k, v in sorted(t.attrs.items()))
    case = {"id": "onnx-" + t.name.removeprefix("test_").replace("_", "-"), "op": op,
            "description": f"ONNX node test {t.name}: {t.op_type}({attrs}), opset {t.opset}"
                           + "".join(f"; {note}" for note in notes),
            "input": inp, "params": params, "tags": ["onnx-node-test"]}
    if op == "lp_pool" and params["norm_type"] > 2:
        case["tolerance"] = {"rtol": t.rtol, "atol": t.atol}
    return case, "; ".join(notes)


def _values(x: np.ndarray) -> Any:
    """Nested lists, each float in its shortest form that rounds back to x's dtype."""
    if x.dtype.kind in "iu":
        return x.tolist()
    # str() of a NumPy float32 / float16 scalar is its shortest round-trip form (float() of it, cast back, is v).
    flat = [float(str(v)) for v in x.flat]
    return np.array(flat, dtype=object).reshape(x.shape).tolist()


def write(tests: list[Any], out: Path, version: str) -> tuple[int, list[str]]:
    """Write the case file; returns (cases written, [not expressed: why])."""
    kept = _kept_expectations(out)
    cases, skipped = [], []
    for t in tests:
        case, why = to_case(t)
        if case is None:
            skipped.append(f"{t.name}: {why}")
            continue
        if case["id"] in kept:
            case["expect"] = kept[case["id"]]
        cases.append(case)
    head = [f"# Generated by `pool-parity import-onnx` from onnx {version}'s pooling node tests ({len(tests)} tests,",
            f"# {len(cases)} expressed). Regenerate instead of editing, except `expect:` (kept on regeneration).",
            "# Not expressed:"] + [f"#   {s}" for s in skipped]
    body = yaml.safe_dump({"cases": cases}, sort_keys=False, default_flow_style=None, width=120)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(head) + "\n" + body)
    return len(cases), skipped


def _kept_expectations(out: Path) -> dict[str, Any]:
    if not out.exists():
        return {}
    try:
        doc = yaml.safe_load(out.read_text())
    except yaml.YAMLError as exc:
        raise HarnessError(f"{out}: cannot keep its expectations, it is not valid YAML ({exc})") from None
    cases = doc.get("cases", []) if isinstance(doc, dict) else []
    return {c["id"]: c["expect"] for c in cases if isinstance(c, dict) and "expect" in c and "id" in c}


def expected_indices(onnx_indices: np.ndarray) -> np.ndarray:
    """ONNX's flat N*C*spatial indices -> the harness's flat per-plane ones."""
    plane = math.prod(onnx_indices.shape[2:]) if onnx_indices.ndim > 2 else 1
    rows = np.arange(onnx_indices.shape[0] * onnx_indices.shape[1]).reshape(onnx_indices.shape[:2] + (1,) * (onnx_indices.ndim - 2))
    return np.asarray(onnx_indices - rows * plane, dtype=np.int64)
