"""nox sessions. Every session installs with -c constraints.txt: framework versions live there."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # nox itself depends on tomli before Python 3.11
    import tomli as tomllib

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

CONSTRAINTS = ("-c", "constraints.txt")
VERSION_SETS: dict[str, dict[str, str]] = tomllib.loads(Path(__file__).with_name("versions.toml").read_text())
MATRIX_DIR = Path("reports/matrix")


def _install(session: nox.Session, extras: str) -> None:
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (what CI runs)."""
    _install(session, "frameworks,test")
    session.run("pytest", "-n", str(min(os.cpu_count() or 1, 4)), *session.posargs)


@nox.session
def parity(session: nox.Session) -> None:
    """Run every case under cases/ on every framework; report in reports/latest/."""
    _install(session, "frameworks")
    args = session.posargs or ["cases", "--out", "reports/latest"]
    session.run("pool-parity", "run", *args)


@nox.session
def bench(session: nox.Session) -> None:
    """Harness vs direct-call baseline on a generated suite (prints figures; asserts nothing).
    `nox -s bench -- --discover [options]`: pool-parity discover's benchmark instead."""
    _install(session, "frameworks")
    if "--discover" in session.posargs:
        session.run("python", "benchmarks/discover_bench.py", *(a for a in session.posargs if a != "--discover"))
        return
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    _install(session, "lint")
    session.run("ruff", "check", "harness", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", "harness")


def matrix_constraints(name: str) -> str:
    """constraints.txt with version set `name`'s pins in place of the same packages' lines."""
    pins = {k.lower(): v for k, v in VERSION_SETS[name].items()}
    lines, seen = [], set()
    for line in Path(__file__).with_name("constraints.txt").read_text().splitlines():
        package = re.split(r"[=<>!~;\[ ]", line.strip(), maxsplit=1)[0].lower()
        if package in pins and not line.lstrip().startswith("#"):
            line = f"{package}=={pins[package]}  # version set {name}"
            seen.add(package)
        lines.append(line)
    if set(pins) - seen:
        raise ValueError(f"versions.toml [{name}]: not pinned in constraints.txt: {', '.join(sorted(set(pins) - seen))}")
    return "\n".join(lines) + "\n"


@nox.session
@nox.parametrize("vset", list(VERSION_SETS), ids=list(VERSION_SETS))
def matrix(session: nox.Session, vset: str) -> None:
    """The suite on each versions.toml set, diffed against the first: reports/matrix/index.html.

    Posargs go to `pool-parity run` (e.g. -k seed)."""
    constraints = Path(session.create_tmp()) / "constraints.txt"
    constraints.write_text(matrix_constraints(vset))
    session.install("-c", str(constraints), "-e", ".[frameworks]")
    out, base = MATRIX_DIR / vset, MATRIX_DIR / next(iter(VERSION_SETS))
    # Expectations are written for the pinned versions, so another set may well exit 1: that is
    # what the diff is for, not a failure of the session.
    session.run("pool-parity", "run", "cases", "--out", str(out), "-q", *session.posargs, success_codes=[0, 1])
    if out != base and (base / "results.json").is_file():
        session.run("pool-parity", "diff", str(base), str(out), "--out", str(out / "diff"), "--fail-on", "none")
    runs = [str(MATRIX_DIR / n) for n in VERSION_SETS if (MATRIX_DIR / n / "results.json").is_file()]
    if (base / "results.json").is_file():
        session.run("pool-parity", "matrix", *runs, "--out", str(MATRIX_DIR))
    else:
        session.warn(f"no baseline run in {base} yet (run its set first): no diff, no matrix page")


# The library's machine-sensitive cases (special values, dtypes, the ONNX / LiteRT / Paddle / Flax
# files, the seeds) on an emulated CPU: QEMU's user-mode models of other x86_64 CPUs (Debian's
# qemu-user), one framework per process (--no-isolation: a spawned worker would run natively).
# Slow (JAX about 16 minutes), so not part of CI; run it when an expectation may depend on the CPU.
PORTABILITY_CASES = ("cases/special_values.yaml", "cases/dtypes.yaml", "cases/global_adaptive.yaml",
                     "cases/onnx.yaml", "cases/litert.yaml", "cases/paddle.yaml", "cases/flax.yaml",
                     "cases/seeds.yaml")


@nox.session
def portability(session: nox.Session) -> None:
    """The machine-sensitive cases on an emulated x86_64 CPU without AVX-512 (QEMU's Haswell model:
    AVX2, FMA; QEMU's emulator has no AVX-512, so this is the CPU class it can show), where TF's
    oneDNN ops are off by default; FRAMEWORKS as posargs (default: all)."""
    cpu = "Haswell"
    import shutil

    if shutil.which("qemu-x86_64") is None:
        session.skip("needs qemu-x86_64 (Debian: apt-get install qemu-user)")
    _install(session, "frameworks")
    frameworks = session.posargs or ["torch", "keras", "jax", "onnxruntime", "litert", "litert-builtin", "flax",
                                     "paddle"]
    for fw in frameworks:
        session.run("qemu-x86_64", "-cpu", cpu, os.path.join(session.bin, "python"), "-m", "harness", "run",
                    *PORTABILITY_CASES,
                    "--frameworks", fw, "--no-isolation", "--case-timeout", "3000", "-q",
                    "--out", f"reports/portability-{cpu}/{fw}", external=True)
