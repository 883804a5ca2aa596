"""The adapter conformance kit: every registered adapter (built-in or a pool_parity.adapters plugin)
passes the same protocol checks, as array-api-tests does for array libraries; an adapter's own tests
cover only what is particular to it. Skipped, with the reason, for an adapter whose framework is not
installed.

- plan() imports no framework (checked in a fresh interpreter: what planning adds to sys.modules
  is the standard library, numpy and harness, nothing else);
- execute(), in a real worker process, returns NumPy arrays in the harness's channels-first layout
  (the reference's shape), in the case dtype where the semantics fix it, named by Outcome.dtype;
- the repro (input_code + repro), run in a fresh interpreter, leaves `out` (and `indices`) equal bit
  for bit to what execute returned;
- every conversion the plan lists is executed: the repro marks each with `# conversion N: <step>`
  before the code that performs it (harness.adapters.script), and the repro with that block removed
  computes something else (or fails).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import adapters, reference
from harness.adapters import script
from harness.inputs import make_input
from harness.load import read_file
from harness.normalise import normalise
from harness.pool import Worker
from harness.repro import input_code
from harness.spec import INT_DTYPES, MAX_OPS, Case
from tests.helpers import ROOT

KIT = """
cases:
  - {id: kit-max-idx, op: max_pool, input: {shape: [2, 3, 7, 6], generator: {kind: randn, seed: 1}},
     params: {kernel_size: 3, stride: 2, padding: 1, return_indices: true}}
  - {id: kit-max-asym-dil, op: max_pool, input: {shape: [1, 2, 9, 8], generator: {kind: randn, seed: 2}},
     params: {kernel_size: 2, stride: 2, padding: [[0, 1], [1, 0]], dilation: 2}}
  - {id: kit-avg-ceil, op: avg_pool, input: {shape: [1, 2, 7, 7], generator: {kind: randn, seed: 3}},
     params: {kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false}}
  - {id: kit-avg-asym, op: avg_pool, input: {shape: [1, 2, 6, 6], generator: {kind: randn, seed: 4}},
     params: {kernel_size: 3, stride: 2, padding: [[0, 1], [1, 0]]}}
  - {id: kit-avg-divisor, op: avg_pool, input: {shape: [1, 2, 6, 6], generator: {kind: randn, seed: 5}},
     params: {kernel_size: 2, divisor_override: 3}}
  - {id: kit-lp, op: lp_pool, input: {shape: [1, 2, 8], generator: {kind: uniform, low: 0.5, high: 2, seed: 6}},
     params: {kernel_size: 2, norm_type: 2}}
  - {id: kit-global, op: global_avg_pool, input: {shape: [2, 3, 4, 4], generator: {kind: randn, seed: 7}}}
  - {id: kit-adaptive, op: adaptive_max_pool, input: {shape: [1, 2, 6, 6], generator: {kind: randn, seed: 8}},
     params: {output_size: 3}}
  - {id: kit-int8, op: max_pool, input: {shape: [1, 2, 6, 6], dtype: int8, generator: {kind: randint, low: -100, high: 100, seed: 9}},
     params: {kernel_size: 2}}
  - {id: kit-unpool, op: max_unpool, input: {shape: [1, 1, 6, 6], generator: {kind: randn, seed: 10}},
     params: {kernel_size: 2}}
"""
FRAMEWORK_TOPS = {"torch", "tensorflow", "keras", "jax", "jaxlib", "onnx", "onnxruntime", "onnxscript", "onnx_ir"}
# Runs each script given on stdin ({key: source}) in its own namespace and saves `out` / `indices`.
RUNNER = """
import contextlib, io, json, sys
import numpy as np
scripts, saved, errors = json.load(sys.stdin), {}, {}
for key, source in scripts.items():
    scope = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, key, "exec"), scope)
        assert "harness" not in sys.modules, "the repro imported harness"
        for name in ("out", "indices"):
            value = np.asarray(scope.get(name))
            if name == "out" or scope.get(name) is not None:
                if value.dtype.hasobject:
                    raise TypeError(f"the repro left {name} = {scope.get(name)!r:.60}, not an array")
                saved[key + "/" + name] = value
    except Exception as exc:
        errors[key] = f"{type(exc).__name__}: {exc}"[:300]
np.savez(sys.argv[1], **saved)
json.dump(errors, open(sys.argv[2], "w"))
"""


def kit_cases(tmp: Path) -> list[Case]:
    path = tmp / "kit.yaml"
    path.write_text(KIT)
    return normalise(read_file(path))


class Run:
    """One adapter over the kit: plans, outcomes from a real worker, and the repro scripts' results."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name, self.spec = name, adapters.get(name)
        self.module = adapters.load(self.spec)
        self.cases = kit_cases(tmp)
        self.plans = {c.id: self.module.plan(c, self.spec.backend) for c in self.cases}
        self.inputs = {c.id: make_input(c.input) for c in self.cases}
        worker = Worker(self.spec, isolated=True)
        probe = worker.ready()
        if isinstance(probe, str):
            worker.stop()
            self.missing = probe
            return
        self.missing = ""
        self.outcomes: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        try:
            for c in self.cases:
                if self.plans[c.id].supported:
                    outcome, error = worker.call(c, self.plans[c.id], self.inputs[c.id], "cpu", None, 300)
                    if error is None:
                        self.outcomes[c.id] = outcome
                    else:
                        self.errors[c.id] = error
        finally:
            worker.stop()
        self.scripts: dict[str, str] = {}
        for c in self.cases:
            if c.id in self.outcomes:
                text = input_code(c, self.inputs[c.id]) + self.module.repro(c, self.plans[c.id])
                self.scripts[c.id] = text
                for i in range(1, len(self.plans[c.id].steps) + 1):
                    if i in script.blocks(text):
                        self.scripts[f"{c.id}~{i}"] = script.without(text, i)
        self.results, self.script_errors = self._fresh(tmp)

    def _fresh(self, tmp: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Every script in one fresh interpreter (no harness import), each in its own namespace."""
        arrays, errors = tmp / f"{self.name}-repro.npz", tmp / f"{self.name}-repro-errors.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run([sys.executable, "-c", RUNNER, str(arrays), str(errors)], input=json.dumps(self.scripts),
                              capture_output=True, text=True, env={**env, **self.spec.env}, cwd=tmp, timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]
        with np.load(arrays) as npz:
            return {k: npz[k] for k in npz.files}, json.loads(errors.read_text())


_RUNS: dict[str, Run] = {}


@pytest.fixture
def kit(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    name = request.node.callspec.params["name"]
    if name not in _RUNS:
        _RUNS[name] = Run(name, tmp_path_factory.mktemp(f"kit-{name}"))
    run = _RUNS[name]
    if run.missing:
        if "ModuleNotFoundError" in run.missing or "ImportError" in run.missing:
            pytest.skip(f"{name} is not installed: {run.missing}")
        pytest.fail(f"{name} could not start: {run.missing}")
    return run


NAMES = sorted(adapters.registry())


@pytest.mark.parametrize("name", NAMES)
def test_plan_imports_no_framework(tmp_path: Path, name: str) -> None:
    kit_path = tmp_path / "kit.yaml"
    kit_path.write_text(KIT)
    code = textwrap.dedent(f"""
        import sys
        from harness import adapters
        from harness.load import read_file
        from harness.normalise import normalise
        from pathlib import Path
        cases = normalise(read_file(Path({str(kit_path)!r})))
        before = {{m.split(".")[0] for m in sys.modules}}
        spec = adapters.get({name!r})
        module = adapters.load(spec)
        plans = [module.plan(c, spec.backend) for c in cases]
        added = {{m.split(".")[0] for m in sys.modules}} - before
        own = spec.module.split(".")[0]
        print(sorted(added - set(sys.stdlib_module_names) - {{"harness", "numpy", "ml_dtypes", own}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **adapters.get(name).env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", f"planning with {name} imported {proc.stdout.strip()}"


@pytest.mark.parametrize("name", NAMES)
def test_execute_returns_channels_first_numpy_in_the_case_dtype(kit: Run, name: str) -> None:
    assert kit.outcomes, f"{name} ran none of the kit's cases: {kit.errors}"
    for case in kit.cases:
        outcome = kit.outcomes.get(case.id)
        if outcome is None:
            continue
        where = f"{name} on {case.id}"
        assert isinstance(outcome.output, np.ndarray), f"{where}: output is a {type(outcome.output).__name__}"
        assert outcome.output.shape == reference.output_shape(case), f"{where}: shape {outcome.output.shape}"
        assert outcome.output.dtype.name == outcome.dtype, f"{where}: {outcome.output.dtype} reported as {outcome.dtype}"
        if case.op in MAX_OPS or case.input.dtype not in INT_DTYPES:
            assert outcome.dtype == case.input.dtype, f"{where}: dtype {outcome.dtype}"
        if case.params.return_indices and case.op != "max_unpool":
            assert isinstance(outcome.indices, np.ndarray) and outcome.indices.shape == outcome.output.shape, where


@pytest.mark.parametrize("name", NAMES)
def test_repro_reproduces_bit_for_bit(kit: Run, name: str) -> None:
    bad = []
    for case in kit.cases:
        outcome = kit.outcomes.get(case.id)
        if outcome is None:
            continue
        if case.id in kit.script_errors:
            bad.append(f"{case.id}: the repro raised {kit.script_errors[case.id]}")
            continue
        got = kit.results.get(f"{case.id}/out")
        if got is None or got.dtype != outcome.output.dtype or not np.array_equal(got, outcome.output, equal_nan=True):
            bad.append(f"{case.id}: repro out {None if got is None else (got.shape, got.dtype)} differs from execute's "
                       f"{outcome.output.shape, outcome.output.dtype}")
        if outcome.indices is not None:
            idx = kit.results.get(f"{case.id}/indices")
            if idx is None or not np.array_equal(idx, outcome.indices):
                bad.append(f"{case.id}: repro indices differ from execute's")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", NAMES)
def test_every_listed_conversion_is_executed(kit: Run, name: str) -> None:
    bad = []
    for case in kit.cases:
        if case.id not in kit.outcomes:
            continue
        plan, text = kit.plans[case.id], kit.scripts[case.id]
        found = script.blocks(text)
        for i, step in enumerate(plan.steps, 1):
            if script.marker(i, step) not in text or i not in found:
                bad.append(f"{case.id}: conversion {i} ({step}) is not marked in the repro")
                continue
            key = f"{case.id}~{i}"
            if key in kit.script_errors:
                continue  # without it the script fails: it was load-bearing
            same = [np.array_equal(kit.results.get(f"{key}/{part}"), kit.results.get(f"{case.id}/{part}"), equal_nan=True)
                    for part in ("out", "indices") if f"{case.id}/{part}" in kit.results]
            if all(same):
                bad.append(f"{case.id}: removing conversion {i} ({step}) changes nothing")
    assert not bad, "\n".join(bad)
