"""Shared test helpers: build cases from YAML text the way users write them."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.load import read_file
from harness.normalise import normalise
from harness.plan import Plan
from harness.spec import Case

ROOT = Path(__file__).resolve().parent.parent


def case_from(op: str, shape: list[int], params: dict | None = None, tmp: Path | None = None, **extra) -> Case:
    """One normalised case from plain Python values (written to YAML and loaded)."""
    inp = extra.pop("input", None) or {"shape": shape, "generator": {"kind": "randn", "seed": 7}}
    inp.setdefault("shape", shape)
    body = {"id": extra.pop("id", "t"), "op": op, "input": inp, "params": params or {}, **extra}
    path = (tmp or Path("/tmp")) / f"case-{abs(hash(yaml.safe_dump(body)))}.yaml"
    path.write_text(yaml.safe_dump({"cases": [body]}, sort_keys=False))
    return normalise(read_file(path))[0]


def seed_cases() -> dict[str, Case]:
    return {c.id: c for c in normalise(read_file(ROOT / "cases" / "seeds.yaml"))}


def run_repro(case: Case, script: str, tmp: Path) -> dict:
    """Run `input_code + script` in a fresh interpreter (what a user pastes) and return the
    arrays it leaves in `out` (and `indices`) as NumPy."""
    import subprocess
    import sys

    import numpy as np

    from harness.repro import input_code

    saved = tmp / f"repro-{abs(hash(script))}.npz"
    tail = (f"\nimport numpy as _np\n_np.savez({str(saved)!r}, out=out"
            + (", indices=indices" if "indices" in script else "") + ")\n")
    proc = subprocess.run([sys.executable, "-c", input_code(case) + script + tail], capture_output=True, text=True,
                          env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(saved) as data:
        return {k: data[k] for k in data.files}


def idle_steps(case: Case, plan: Plan, repro: str, tmp: Path) -> list[str]:
    """The conformance kit's conversion check (tests/test_adapter_conformance.py) on a case of an
    adapter's own: each of the plan's steps is marked `# conversion N:` in the repro, and the repro
    with that block removed computes something else or fails. Returns what breaks that rule."""
    import json
    import subprocess
    import sys

    import numpy as np

    from harness.adapters import script
    from harness.repro import input_code
    from tests.test_adapter_conformance import RUNNER

    text = input_code(case) + repro
    steps = list(plan.steps)
    found = script.blocks(text)
    bad = [f"conversion {i} ({step}) is not marked" for i, step in enumerate(steps, 1)
           if script.marker(i, step) not in text or i not in found]
    scripts = {"full": text, **{f"~{i}": script.without(text, i) for i in found}}
    arrays, errors = tmp / "idle-steps.npz", tmp / "idle-steps.json"
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(arrays), str(errors)], input=json.dumps(scripts),
                          capture_output=True, text=True, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    failed = json.loads(errors.read_text())
    assert "full" not in failed, failed["full"]
    with np.load(arrays) as saved:
        for i in found:
            if f"~{i}" not in failed and np.array_equal(saved[f"~{i}/out"], saved["full/out"], equal_nan=True):
                bad.append(f"removing conversion {i} ({steps[i - 1]}) changes nothing")
    return bad
