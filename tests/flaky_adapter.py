"""A flaky stand-in: the first answer a worker gives for an input is wrong, later ones right
(the reference rounded to the case dtype), so every divergence it shows goes away on re-run."""

from __future__ import annotations

import numpy as np

from harness import reference
from harness.adapters.base import Outcome, Probe
from harness.plan import Plan
from harness.spec import Case

_answered: set[bytes] = set()


def probe() -> Probe:
    return Probe(versions={"flaky": "1"}, devices={"cpu": "cpu"})


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "flaky(x)")


def execute(case: Case, plan_: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    ref = reference.compute(case, x, upstream)
    out = ref.output.astype(x.dtype)
    key = repr((case.op, case.params, x.dtype.str)).encode() + x.tobytes()
    if key not in _answered:
        _answered.add(key)
        out = out + 1
    return Outcome(output=out, indices=ref.indices, grad=None if ref.grad is None else ref.grad.astype(x.dtype),
                   dtype=str(out.dtype))
