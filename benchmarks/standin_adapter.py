"""A stand-in framework for the benchmark: answers with the reference rounded to the case dtype.

Run in-process (`--no-isolation`) under three names, it puts the harness's own per-case work
(load, inputs, reference, plans, comparisons, records) through the real code path with no
framework, worker or pipe, so that work can be timed alone. Its own answer's cost is reported
as framework time and subtracted by the benchmark.
"""

from __future__ import annotations

import time

from harness import reference
from harness.adapters.base import Outcome, Probe
from harness.plan import Plan
from harness.spec import Case


def probe() -> Probe:
    return Probe(versions={"standin": "1"}, devices={"cpu": "cpu"}, env={})


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "standin(x)")


def execute(case: Case, plan: Plan, x, device: str, upstream=None) -> Outcome:  # noqa: ANN001
    start = time.process_time()
    ref = reference.compute(case, x, upstream)
    out = ref.output.astype(x.dtype)
    return Outcome(output=out, indices=ref.indices, grad=None if ref.grad is None else ref.grad.astype(x.dtype),
                   dtype=str(out.dtype), seconds=time.process_time() - start)
