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
