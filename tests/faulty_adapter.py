"""A deliberately faulty adapter for runner tests: behaviour picked by the case's tags.

tags: crash -> the process says so on stderr and aborts; hang -> sleeps forever; slow -> takes 0.2 s;
raise -> ValueError; lock -> makes a multiprocessing lock, as tqdm does inside torch.onnx.export;
wrong -> returns zeros; unpicklable -> an answer the worker cannot send back (it dies between
cases); otherwise returns the reference (a correct framework).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

from harness import reference
from harness.adapters.base import Outcome, Probe
from harness.plan import Plan
from harness.spec import Case

LOCKS: list = []


def probe() -> Probe:
    return Probe(versions={"faulty": "1.0"}, devices={"cpu": "cpu"},
                 env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset")})


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "faulty(x)")


def execute(case: Case, plan: Plan, x, device: str, upstream=None) -> Outcome:
    if "crash" in case.tags:
        os.write(2, b"faulty adapter: aborting on purpose\n")  # a framework's last words, on stderr
        os.kill(os.getpid(), signal.SIGABRT)
    if "hang" in case.tags:
        time.sleep(3600)
    seconds = 0.0
    if "slow" in case.tags:  # the framework's own time, as a real adapter's Stopwatch reports it
        time.sleep(0.2)
        seconds = 0.2
    if "raise" in case.tags:
        raise ValueError("faulty adapter refuses this case")
    if "lock" in case.tags:
        LOCKS.append(multiprocessing.RLock())  # registered with the parent's resource tracker
    if "unpicklable" in case.tags:
        return Outcome(output=x, dtype=lambda: "no")  # type: ignore[arg-type]
    ref = reference.compute(case, x, upstream)
    out = ref.output * 0 if "wrong" in case.tags else ref.output
    return Outcome(output=out.astype(x.dtype), indices=ref.indices,
                   grad=None if ref.grad is None else ref.grad.astype(x.dtype), dtype=str(x.dtype), seconds=seconds)
