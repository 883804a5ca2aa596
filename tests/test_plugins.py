"""Adapters as plugins: a separate package declares one in the `pool_parity.adapters` entry-point
group and a case runs through it end to end, in a real worker process, without this package
naming it anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import ROOT

# A whole framework in NumPy: max pooling without padding, the plainest adapter there is.
ADAPTER = '''
import numpy as np
from harness.adapters.base import Outcome, Probe
from harness.plan import Plan, unsupported


def probe():
    return Probe(versions={"numpy-pool": "0.1"}, devices={"cpu": "numpy"})


def plan(case, backend=None):
    p = case.params
    if case.op != "max_pool" or case.spatial_dims != 2 or any(b or a for b, a in p.padding) or p.ceil_mode \\
            or p.return_indices or any(d > 1 for d in p.dilation):
        return unsupported("numpy-pool does unpadded 2-D max pooling only")
    return Plan("native", f"numpy_pool.max_pool(x, {p.kernel_size}, {p.stride})")


def execute(case, plan, x, device, upstream=None):
    (kh, kw), (sh, sw) = case.params.kernel_size, case.params.stride
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    out = win.max(axis=(-2, -1))
    return Outcome(output=out, dtype=out.dtype.name)
'''
CASES = """
cases:
  - id: plugged
    op: max_pool
    input: {shape: [2, 3, 7, 6], generator: {kind: randn, seed: 1}}
    params: {kernel_size: [3, 2], stride: [2, 1]}
  - id: plugged-padded
    op: max_pool
    input: {shape: [1, 1, 5, 5], generator: {kind: randn, seed: 2}}
    params: {kernel_size: 2, padding: 1}
"""


def install_plugin(target: Path) -> None:
    """The package as pip would install it: its module and a dist-info with entry_points.txt."""
    pkg = target / "numpy_pool"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "adapter.py").write_text(ADAPTER)
    info = target / "numpy_pool-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy-pool\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pool_parity.adapters]\nnumpy-pool = numpy_pool.adapter\n")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_plugin_adapter_runs_a_case_through_a_worker(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_plugin(site)
    (tmp_path / "cases.yaml").write_text(CASES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "out"
    proc = _run(["run", str(tmp_path / "cases.yaml"), "--frameworks", "numpy-pool", "--out", str(out), "-q"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text())
    verdicts = {r["case_id"]: r["verdict"] for r in doc["results"]}
    assert verdicts == {"plugged": "pass", "plugged-padded": "unsupported"}
    assert doc["meta"]["frameworks"]["numpy-pool"]["versions"] == {"numpy-pool": "0.1"}  # probed in its worker


def test_without_the_plugin_the_name_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(CASES)
    proc = _run(["run", str(tmp_path / "cases.yaml"), "--frameworks", "numpy-pool", "--out", str(tmp_path / "o")],
                dict(os.environ))
    assert proc.returncode == 2 and "numpy-pool" in proc.stderr


def test_listing_plugins_imports_none_of_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_plugin(site)
    code = textwrap.dedent("""
        import sys
        from harness import adapters
        assert adapters.get("numpy-pool").module == "numpy_pool.adapter"
        assert "numpy_pool" not in sys.modules
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr[-2000:]
