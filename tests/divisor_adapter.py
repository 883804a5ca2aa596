"""A stand-in framework with a planted bug: ceil-mode averages divide by the whole kernel.

It answers every case with the float64 reference rounded to the case dtype, except `avg_pool`
with `ceil_mode`, where each window's sum of real taps is divided by prod(kernel_size): the
partial last windows then count their ceil-mode overhang (and padding), the kind of divisor
bug the report's window view is there to show. Register it with
POOL_PARITY_ADAPTERS="wrongdiv=tests.divisor_adapter".
"""

from __future__ import annotations

import math

import numpy as np

from harness import reference
from harness.adapters.base import Outcome
from harness.plan import Plan
from harness.spec import Case
from tests.faulty_adapter import probe

__all__ = ["probe", "plan", "execute"]


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "wrongdiv.pool(x)")


def execute(case: Case, plan: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    ref = reference.compute(case, x, upstream)
    out = ref.output
    if case.op == "avg_pool" and case.params.ceil_mode:
        w = reference.gather(case, np.asarray(x, dtype=np.float64))
        out = np.where(w.valid, w.values, 0.0).sum(axis=-1) / math.prod(case.params.kernel_size)
    return Outcome(output=out.astype(x.dtype), indices=ref.indices,
                   grad=None if ref.grad is None else ref.grad.astype(x.dtype), dtype=str(x.dtype))
