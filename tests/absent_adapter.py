"""Adapters whose framework cannot be imported, for runner tests: `absent` names a package that is
not installed (its results are skipped); `broken` fails to import for another reason (an error)."""

from __future__ import annotations

import importlib

from harness.adapters.base import Outcome, Probe
from harness.plan import Plan
from harness.spec import Case


def probe() -> Probe:
    importlib.import_module("pool_parity_no_such_framework")
    raise AssertionError("unreachable")


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "absent(x)")


def execute(case: Case, plan: Plan, x, device: str, upstream=None) -> Outcome:
    raise AssertionError("never runs: the worker could not start")
