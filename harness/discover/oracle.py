"""The oracle: harness.run.Runner serving discovery batch after batch, in one session of workers.

Discovery is a client of the runner, not a second runner: a batch of Cases goes to
Runner.submit and Runner.run, so isolation, crash recovery, batching, the float64 reference and
the comparator are the ones `pool-parity run` uses. The records come back through MemoryWriter,
a ResultWriter with the same interface that keeps them (and the arrays the Runner hands every
writer: input, reference and each framework's output) in memory until the batch is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.config import RunConfig
from harness.run import Runner
from harness.spec import Case


@dataclass
class Answer:
    """What one framework answered for one case: its result record, and its output and the
    reference output when it produced one."""

    record: dict[str, Any]
    output: np.ndarray | None = None
    reference: np.ndarray | None = None


@dataclass
class Outcome:
    """A case's answers by framework, and its case record."""

    case: Case
    answers: dict[str, Answer] = field(default_factory=dict)
    case_record: dict[str, Any] = field(default_factory=dict)


class MemoryWriter:
    """ResultWriter's interface (write, array, close), held in memory for one batch at a time."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.arrays: dict[str, np.ndarray] = {}

    def write(self, kind: str, record: dict[str, Any], key: tuple[Any, ...] = (0,)) -> None:
        self.records.append((kind, record))

    def array(self, key: str, value: np.ndarray) -> None:
        self.arrays[key] = value

    def close(self, meta: dict[str, Any]) -> dict[str, Any]:
        return meta

    def take(self) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, np.ndarray]]:
        records, arrays = self.records, self.arrays
        self.records, self.arrays = [], {}
        return records, arrays


class Oracle:
    """One Runner session: start once, then run(cases) as often as needed, then stop."""

    def __init__(self, config: RunConfig) -> None:
        self.writer = MemoryWriter()
        self.runner = Runner([], config, self.writer)  # type: ignore[arg-type]  # same interface
        self.results = 0
        self.batches = 0
        self.seconds = 0.0  # wall time inside run()
        self.framework_seconds: dict[str, float] = {}
        self.framework_results: dict[str, int] = {}
        # Framework seconds of the first call of each signature (JAX compiles then) and of the
        # calls after it, per framework: the compile estimate of where the time goes.
        self._signatures: set[tuple[Any, ...]] = set()
        self.first_calls: dict[str, list[float]] = {}  # framework: [count, seconds]
        self.repeat_calls: dict[str, list[float]] = {}

    def start(self) -> None:
        self.runner.start_workers()

    def stop(self) -> None:
        self.runner.stop_workers()

    def meta(self) -> dict[str, Any]:
        return self.runner.meta()

    def compile_seconds(self, fw: str) -> float:
        """First calls' time beyond what a repeated call of the same framework takes: compiling
        (JAX's jit per signature) and any other first-use cost."""
        first, repeat = self.first_calls.get(fw, [0, 0.0]), self.repeat_calls.get(fw, [0, 0.0])
        typical = repeat[1] / repeat[0] if repeat[0] else 0.0
        return max(0.0, first[1] - first[0] * typical)

    def run(self, cases: list[Case]) -> dict[str, Outcome]:
        """Every case through the Runner; outcomes by case id."""
        if not cases:
            return {}
        started = time.perf_counter()
        self.runner.submit(cases)
        self.runner.run()
        self.seconds += time.perf_counter() - started
        self.batches += 1
        records, arrays = self.writer.take()
        out = {c.id: Outcome(c) for c in cases}
        for kind, rec in records:
            if kind == "case":
                out[rec["id"]].case_record = rec
                continue
            cid, fw = rec["case_id"], rec["framework"]
            label = f"{fw}-{rec['device']}"
            self.results += 1
            self.framework_results[fw] = self.framework_results.get(fw, 0) + 1
            seconds = rec.get("seconds") or 0.0
            self.framework_seconds[fw] = self.framework_seconds.get(fw, 0.0) + seconds
            if rec.get("seconds") is not None:
                case = out[cid].case
                sig = (fw, case.op, case.params, case.input.shape, case.input.dtype, case.grad)
                tally = self.repeat_calls if sig in self._signatures else self.first_calls
                self._signatures.add(sig)
                count, total = tally.get(fw, [0, 0.0])
                tally[fw] = [count + 1, total + seconds]
            name = fw if rec["device"] == "cpu" else label
            out[cid].answers[name] = Answer(rec, arrays.get(f"{cid}/{label}/output"),
                                            arrays.get(f"{cid}/reference/output"))
        return out
