"""Frameworks are named and imported only in harness/adapters/; the CLI's non-running commands
import none of them."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import ROOT

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "jaxlib", "onnx", "onnxruntime", "onnxscript", "onnx_ir", "flax", "paddle",
              "ai_edge_litert")


def test_no_framework_import_outside_adapters() -> None:
    pattern = re.compile(rf"^\s*(import|from)\s+({'|'.join(FRAMEWORKS)})\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "harness").rglob("*.py")
                 if "adapters" not in p.parts and pattern.search(p.read_text())]
    assert offenders == []


def test_validate_list_explain_report_import_no_framework(tmp_path) -> None:
    code = f"""
import sys
from harness.cli import main
assert main(["validate", "cases"]) == 0
assert main(["list", "cases"]) == 0
assert main(["explain", "seed-D3-avg-ceil-cip", "cases", "--frameworks", "torch,keras,jax,keras-jax,onnxruntime,torch-onnx,litert,litert-builtin,flax,paddle"]) == 0
loaded = {{m.split(".")[0] for m in sys.modules}} & set({FRAMEWORKS!r})
assert not loaded, loaded
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
