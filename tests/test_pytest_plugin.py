"""The pytest plugin, driven in a subprocess on a small case directory with the faulty adapter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

CASES = """
cases:
  - id: good
    op: max_pool
    input: {shape: [1, 1, 4], generator: {kind: arange}}
    params: {kernel_size: 2}
  - id: bad
    op: max_pool
    input: {shape: [1, 1, 4], generator: {kind: arange}}
    params: {kernel_size: 2}
    tags: [wrong]
  - id: known
    op: max_pool
    input: {shape: [1, 1, 4], generator: {kind: arange}}
    params: {kernel_size: 2}
    tags: [wrong]
    expect: {faulty: {verdict: numeric_mismatch, reason: returns zeros}}
"""


def pytest_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cases = tmp_path / "cases"
    cases.mkdir(exist_ok=True)
    (cases / "t.yaml").write_text(CASES)
    env = {**os.environ, "POOL_PARITY_ADAPTERS": "faulty=tests.faulty_adapter", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(cases), "--pp-frameworks", "faulty", "-rA", *args],
                          capture_output=True, text=True, cwd=tmp_path, env=env)


def test_items_have_readable_ids_and_verdicts(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path)
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "PASSED cases/t.yaml::good[faulty-cpu]" in out
    assert "FAILED cases/t.yaml::bad[faulty-cpu]" in out
    assert "XFAIL cases/t.yaml::known[faulty-cpu]" in out
    assert "numeric_mismatch: output: 2/2 elements differ" in out  # the report's diff summary


def test_k_selects_and_gpu_is_skipped(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, "-k", "good", "--pp-devices", "cpu,gpu")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout and "no gpu device" in proc.stdout
