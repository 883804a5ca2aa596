"""nox sessions. Every session installs with -c constraints.txt: framework versions live there."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

CONSTRAINTS = ("-c", "constraints.txt")


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
