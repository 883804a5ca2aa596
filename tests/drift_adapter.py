"""A stand-in framework whose behaviour a test changes between two runs, through the environment.

It answers with the reference rounded to the case dtype (a correct framework), except:
POOL_PARITY_TEST_ULPS=k   nudges every output value k ULPs up (np.nextafter toward +inf);
POOL_PARITY_TEST_EMULATE=1   plans the case as emulated, with one conversion;
POOL_PARITY_TEST_RAISE=1     raises instead of answering;
POOL_PARITY_TEST_VERSION=v   reports version v of the package "drift" (default 1.0);
POOL_PARITY_TEST_ONLY=text   applies the nudge, emulation and raise only to case ids containing text.
"""

from __future__ import annotations

import os

import numpy as np

from harness import reference
from harness.adapters.base import Outcome, Probe
from harness.plan import Note, Plan
from harness.spec import Case


def _applies(case: Case) -> bool:
    return os.environ.get("POOL_PARITY_TEST_ONLY", "") in case.id


def probe() -> Probe:
    return Probe(versions={"drift": os.environ.get("POOL_PARITY_TEST_VERSION", "1.0")}, devices={"cpu": "cpu"}, env={})


def plan(case: Case, backend: str | None = None) -> Plan:
    if os.environ.get("POOL_PARITY_TEST_EMULATE") == "1" and _applies(case):
        return Plan("emulated", "drift(pad(x))", (Note("pad by hand, then pool"),))
    return Plan("native", "drift(x)")


def execute(case: Case, plan: Plan, x, device: str, upstream=None) -> Outcome:  # noqa: ANN001
    if os.environ.get("POOL_PARITY_TEST_RAISE") == "1" and _applies(case):
        raise ValueError("drift adapter refuses this case")
    ref = reference.compute(case, x, upstream)
    out = ref.output.astype(x.dtype)
    for _ in range(int(os.environ.get("POOL_PARITY_TEST_ULPS", "0")) if _applies(case) else 0):
        out = np.nextafter(out, np.array(np.inf, dtype=out.dtype))
    return Outcome(output=out, indices=ref.indices, grad=None if ref.grad is None else ref.grad.astype(x.dtype),
                   dtype=str(out.dtype))
