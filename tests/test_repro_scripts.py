"""Every result's repro script, run after its case's input_code, leaves in `out` exactly (bit for
bit) the output the run recorded for that framework: checked over a run of the whole shipped
library, per framework, against the run's saved arrays. Each framework's scripts run in a fresh
interpreter of their own, each script in a fresh namespace; a few of them also run alone as a
file, as a person would run the script the report offers."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from harness.adapters import DEFAULT_FRAMEWORKS
from harness.cli import main
from tests.helpers import ROOT

# Runs in a fresh interpreter: every script of one framework, each in a namespace of its own.
CHECK = r"""
import contextlib, io, json, sys, zipfile
import numpy as np

jobs = json.load(open(sys.argv[1]))
arrays = zipfile.ZipFile(sys.argv[2])
failures = []
for job in jobs:
    scope = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(job["script"], job["case_id"], "exec"), scope)
        out = np.asarray(scope["out"])
    except Exception as exc:  # noqa: BLE001
        failures.append(f"{job['case_id']}: {type(exc).__name__}: {exc}")
        continue
    with arrays.open(job["array"]) as fh:
        recorded = np.lib.format.read_array(fh)
    # NumPy's .npy format stores ml_dtypes' bfloat16 as raw 2-byte voids
    same_type = out.dtype == recorded.dtype or (recorded.dtype.kind == "V" and out.dtype.name == "bfloat16")
    if not same_type or out.shape != recorded.shape or out.tobytes() != recorded.tobytes():
        failures.append(f"{job['case_id']}: out {out.dtype}{list(out.shape)} differs from the recorded "
                        f"{recorded.dtype}{list(recorded.shape)}")
print(json.dumps({"checked": len(jobs), "failures": failures}))
"""


@pytest.fixture(scope="module")
def library_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("library")
    code = main(["run", str(ROOT / "cases"), "--out", str(out), "--save-arrays", "-q"])
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


def _scripts(doc: dict) -> dict[str, list[dict]]:
    """(framework) -> the script of each of its results that has an output."""
    cases = {c["id"]: c for c in doc["cases"]}
    jobs: dict[str, list[dict]] = defaultdict(list)
    for r in doc["results"]:
        if r.get("comparison") and r["repro"]:
            case = cases[r["case_id"]]
            jobs[r["framework"]].append({"case_id": r["case_id"], "script": case["input_code"] + r["repro"],
                                         "array": f"{r['case_id']}/{r['framework']}-{r['device']}/output.npy"})
    return jobs


@pytest.mark.parametrize("framework", DEFAULT_FRAMEWORKS)
def test_every_script_reproduces_the_recorded_output(library_run: tuple[Path, dict], framework: str,
                                                     tmp_path: Path) -> None:
    out, doc = library_run
    jobs = _scripts(doc)[framework]
    ran = sum(1 for r in doc["results"] if r["framework"] == framework and r.get("comparison"))
    assert jobs and len(jobs) == ran  # every result with an output has a script
    listing = tmp_path / "jobs.json"
    listing.write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, "-c", CHECK, str(listing), str(out / "arrays.npz")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["checked"] == len(jobs)
    assert report["failures"] == [], "\n".join(report["failures"][:20])


@pytest.mark.parametrize("framework", DEFAULT_FRAMEWORKS)
def test_scripts_run_alone_as_files(library_run: tuple[Path, dict], framework: str, tmp_path: Path) -> None:
    """One script per kind of plan (mode, and whether it returns indices) runs as `python script.py`."""
    out, doc = library_run
    results = {(r["case_id"], r["framework"]): r for r in doc["results"]}
    picked: dict[tuple[str, bool], dict] = {}
    for job in _scripts(doc)[framework]:
        r = results[(job["case_id"], framework)]
        picked.setdefault((r["mode"], "indices" in r["comparison"]), job)
    assert picked
    for job in picked.values():
        path = tmp_path / f"{job['case_id']}.py"
        path.write_text(job["script"] + "np.save('out.npy', out)\n")
        proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (job["case_id"], proc.stderr[-2000:])
        assert proc.stdout.strip(), "the script prints out"
        with zipfile.ZipFile(out / "arrays.npz") as npz, npz.open(job["array"]) as fh:
            recorded = np.lib.format.read_array(fh)
        got = np.load(tmp_path / "out.npy")
        assert got.dtype.str == recorded.dtype.str and got.tobytes() == recorded.tobytes(), job["case_id"]
