"""A small real run for the report tests: the seed cases plus a ceil-mode case with asymmetric
padding and dilation, on two stand-in frameworks: `good` (answers the reference) and `wrongdiv`
(a planted ceil-mode divisor bug, tests/divisor_adapter.py), so that the ceil-mode averages fail."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.cli import main
from tests.helpers import ROOT

EXTRA = """cases:
  - id: ceil-avg-asym-dilated
    description: a ceil-mode average with asymmetric padding and dilation; its last windows overhang
    op: avg_pool
    input: {shape: [1, 1, 6, 7], generator: {kind: arange}}
    params: {kernel_size: [3, 2], stride: 2, padding: [[1, 0], [0, 1]], dilation: [1, 2], ceil_mode: true}
    tags: [ceil_mode, dilation]
"""
ADAPTERS = "good=tests.faulty_adapter,wrongdiv=tests.divisor_adapter"


def small_run(tmp: Path, *more: str) -> tuple[Path, dict[str, Any]]:
    """Run it (real workers) into tmp/run; (that directory, its results.json)."""
    extra = tmp / "extra.yaml"
    extra.write_text(EXTRA)
    out = tmp / "run"
    env = os.environ.get("POOL_PARITY_ADAPTERS")
    os.environ["POOL_PARITY_ADAPTERS"] = ADAPTERS
    try:
        code = main(["run", str(ROOT / "cases" / "seeds.yaml"), str(extra), *more, "--frameworks", "good,wrongdiv",
                     "--out", str(out), "-q", "--jobs", "1"])
    finally:
        if env is None:
            os.environ.pop("POOL_PARITY_ADAPTERS")
        else:
            os.environ["POOL_PARITY_ADAPTERS"] = env
    assert code == 1, "the planted divisor bug must fail the run"
    return out, json.loads((out / "results.json").read_text())
