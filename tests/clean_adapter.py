"""The stand-in of planted_adapter.py without its plants: agrees with the reference everywhere."""

from __future__ import annotations

import numpy as np

from harness.adapters.base import Outcome
from harness.plan import Plan
from harness.spec import Case
from tests import planted_adapter
from tests.planted_adapter import plan, probe

__all__ = ["execute", "plan", "probe"]


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    return planted_adapter.execute(case, plan_, x, device, upstream, planted=False)
