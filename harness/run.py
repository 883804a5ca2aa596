"""Stage 4: schedule case x framework x device onto worker processes and stream results.

One pool of worker processes per framework (each imports its framework once). A worker that
crashes, hangs past the case timeout or dies of memory costs only the case it was running: that
result becomes `error` with the cause, the worker is restarted, and the run goes on.
The reference and the comparison run here, in the parent, while the workers compute.
"""

from __future__ import annotations

import functools
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from multiprocessing.connection import wait
from types import ModuleType
from typing import Any

import numpy as np

from harness import adapters, compare, evidence, expectations, reference
from harness.adapters.base import NotInstalled, Probe
from harness.config import RunConfig, default_jobs, environment, thread_env, threads_code
from harness.inputs import make_input, make_upstream
from harness.plan import Plan
from harness.pool import STARTUP_TIMEOUT, Worker
from harness.repro import input_code, reference_code
from harness.results import ResultWriter
from harness.spec import ACCEPTABLE, Case, PoolParams
from harness.worker import error_text, pack

INITIAL_BATCH = 4  # cases per message until a framework's speed is known
MAX_BATCH = 64
BATCH_SECONDS = 0.05
MAX_ATTEMPTS = 3
PLAN_CACHE = 4096  # plan signatures remembered
OPEN_CASES = 1024  # cases open at once (per job)...
OPEN_BYTES = 1 << 30  # ...while their inputs and references hold less than this (one is always open)
LEND_SECONDS = 30.0  # queued framework time worth starting one more worker for (its import costs seconds)


@dataclass
class Task:
    id: int
    state: CaseState
    framework: str
    device: str
    plan: Plan
    record: dict[str, Any]
    attempts: int = 0  # times a worker died while this task was in flight but not running


@dataclass
class CaseState:
    order: int
    case: Case
    x: np.ndarray | None  # None (and ref too) when the case could not be built: its results are errors
    ref: reference.Reference | None
    upstream: np.ndarray | None
    pending: int = 0
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)
    exact: set[str] = field(default_factory=set)  # labels whose output equals the reference exactly
    focus: list[tuple[int, ...]] = field(default_factory=list)  # output elements a result's window shows
    nbytes: int = 0  # what its input and reference hold (frameworks' answers add about as much again)
    _packed: bytes | None = None

    def packed(self) -> bytes:
        """Case, input and upstream as the workers receive them (pickled once for all)."""
        if self._packed is None:
            self._packed = pack(self.case, self.x, self.upstream)
        return self._packed


@dataclass
class Progress:
    done: int
    total: int
    failing: int
    elapsed: float


class Runner:
    def __init__(self, cases: list[Case], config: RunConfig, writer: ResultWriter,
                 on_progress: Callable[[Progress], None] | None = None,
                 orders: list[int] | None = None) -> None:
        self.config, self.writer = config, writer
        self.cases: list[Case] = []
        self.orders: list[int] = []
        self._waiting: deque[int] = deque()  # positions in self.cases not opened yet
        self._open_cases = 0
        self.on_progress = on_progress
        self.specs = {fw: adapters.get(fw) for fw in config.frameworks}
        self.modules: dict[str, ModuleType] = {fw: adapters.load(s) for fw, s in self.specs.items()}
        self.pools: dict[str, list[Worker[Task]]] = {}
        self.probes: dict[str, Probe | str] = {}
        self.queues: dict[str, deque[Task]] = {fw: deque() for fw in config.frameworks}
        self.events: list[str] = []  # crashes, timeouts, restarts: said in the report
        self.done = self.failing = 0
        self.open_bytes = 0  # held by the open cases' inputs and references
        self.ready_seconds: dict[str, float] = {}
        # Parent CPU seconds in each harness stage (the benchmark's breakdown); CPU, not wall time,
        # so time the parent spends descheduled while workers compute is not counted as overhead.
        self.timings = {"startup": 0.0, "inputs": 0.0, "reference": 0.0, "plan": 0.0, "ipc": 0.0,
                        "compare": 0.0, "serialise": 0.0}
        self.clock = _Stages(self.timings)
        self.started = time.time()
        self.cpu_started = _cpu_seconds()
        self._next_task = 0
        self._fw_time: dict[str, tuple[int, float]] = {}  # framework: (outcomes, their seconds)
        self._plans: dict[tuple[Any, ...], tuple[Plan, list[str], str]] = {}  # signature: (plan, conversions, repro)
        self._threads_code = threads_code(config.threads)  # heads every repro
        self.submit(cases, orders)

    def submit(self, cases: list[Case], orders: list[int] | None = None) -> None:
        """Queue cases for the next run(). A session may submit and run many times (discovery
        does, batch after batch) on the same workers, so the frameworks are imported once.
        `orders` are the cases' suite positions (default: their submission positions)."""
        first = len(self.cases)
        self.cases.extend(cases)
        self.orders.extend(orders or range(first, first + len(cases)))
        self._waiting.extend(range(first, first + len(cases)))

    # ------------------------------------------------------------ lifecycle

    def start_workers(self) -> None:
        back = self.clock.to("startup")
        self._start_workers()
        self.clock.to(back)

    def _start_workers(self) -> None:
        """Spawn every worker; each framework gets work as soon as its own worker is ready, so a
        slow import (TensorFlow's) does not hold the others back."""
        jobs = max(1, self.config.jobs)
        logs = self.config.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for fw, spec in self.specs.items():
            env = thread_env(self.config.threads)
            log = logs / f"{fw}.log"
            log.unlink(missing_ok=True)  # a log holds this run's messages only
            self.pools[fw] = [Worker(spec, self.config.isolation, env, log)
                              for _ in range(jobs if self.config.isolation else 1)]
            if not self.config.isolation:
                self._ready(self.pools[fw][0], self.pools[fw][0].ready())

    def _ready(self, w: Worker[Task], probe: Probe | str) -> None:
        fw = w.spec.name
        if isinstance(probe, Probe):
            self.probes.setdefault(fw, probe)
            self.ready_seconds.setdefault(fw, time.time() - self.started)
            return
        if w.restarts:
            self.events.append(f"{fw}: restart failed: {probe}")
        self.pools[fw] = [x for x in self.pools[fw] if x is not w]
        if not self.pools[fw]:  # no worker of this framework could start
            self.probes.setdefault(fw, probe)

    def stop_workers(self) -> None:
        workers = [w for pool in self.pools.values() for w in pool]
        for w in workers:  # all told first, so they exit together
            w.ask_stop()
        for w in workers:
            w.join()

    def meta(self) -> dict[str, Any]:
        fws: dict[str, dict[str, Any]] = {}
        for fw, probe in self.probes.items():
            spec = self.specs[fw]
            if isinstance(probe, Probe):
                fws[fw] = {"versions": probe.versions, "devices": probe.devices, "env": probe.env,
                           "backend": spec.backend}
            else:
                fws[fw] = {"error": probe, "backend": spec.backend, "not_installed": isinstance(probe, NotInstalled)}
        return {
            "seed": self.config.seed,
            "frameworks": fws,
            "devices_requested": list(self.config.devices),
            "jobs": self.config.jobs,
            "worker_env": thread_env(self.config.threads),
            "environment": environment(),
            "events": self.events,
            "shard": list(self.config.shard) if self.config.shard else None,
            "case_count": len(self.cases),
            "timings": dict(self.timings),
            "ready_seconds": dict(self.ready_seconds),
            "cpu_seconds": _cpu_seconds() - self.cpu_started,
            "peak_rss_mb": peak_rss_mb(),
            "rss_mb": _current_rss_mb(),
        }

    # ------------------------------------------------------------ scheduling

    def run(self) -> None:
        """Run every case submitted so far to its end."""
        # Cases open at once: wide enough that a fast framework is never held back by a slow
        # one (a case closes only when every framework has answered), narrow enough in bytes that
        # a suite of large cases does not hold them all.
        window = OPEN_CASES * max(1, self.config.jobs)
        pending = self._waiting
        while True:
            while pending and self._open_cases < window and (not self._open_cases or self.open_bytes < OPEN_BYTES):
                self._open_cases += self._open(pending.popleft())
            # Each step leaves the clock on its last stage; what runs between steps is the loop's.
            self.clock.to(None)
            finished = self._dispatch()
            self._lend_idle_cores()
            self.clock.to(None)
            waiting = [w for pool in self.pools.values() for w in pool if w.batches or w.probe is None]
            if waiting:
                finished += self._collect(waiting)
            for state in finished:
                self._finish(state)
                self._open_cases -= 1
            self.clock.to(None)
            if not waiting and not finished and not pending:
                return

    def _open(self, order: int) -> int:
        """Generate the input, compute the reference, plan every framework; queue the work."""
        case = self.cases[order]
        try:
            self.clock.to("inputs")
            x = make_input(case.input)
            upstream = make_upstream(case, reference.output_shape(case)) if case.grad else None
            self.clock.to("reference")
            ref = reference.compute(case, x, upstream)
        except Exception as exc:  # noqa: BLE001 - a bug building one case costs that case, not the run
            broken = CaseState(self.orders[order], case, None, None, None)
            stage = "input" if self.clock.stage == "inputs" else "reference"
            why = f"could not build the {stage}: {error_text(exc)}"
            for fw, device in self._targets(case):
                self._emit(broken, self._record(case, fw, device), "error", why, error=why)
            self._finish(broken)
            return 0
        self.clock.to("plan")
        state = CaseState(self.orders[order], case, x, ref, upstream)
        state.nbytes = x.nbytes + (upstream.nbytes if upstream is not None else 0) + ref.nbytes
        self.open_bytes += state.nbytes
        self.writer.array(f"{case.id}/input", x)
        self.writer.array(f"{case.id}/reference/output", ref.output)
        if ref.indices is not None:
            self.writer.array(f"{case.id}/reference/indices", ref.indices)
        for fw, device in self._targets(case):
            self._plan_one(state, fw, device)
        if state.pending == 0:
            self._finish(state)
            return 0
        return 1

    def _targets(self, case: Case) -> list[tuple[str, str]]:
        """The (framework, device) pairs that run this case."""
        return [(fw, device) for fw in self.config.frameworks if case.frameworks is None or fw in case.frameworks
                for device in self.config.devices if case.devices is None or device in case.devices]

    @staticmethod
    def _record(case: Case, fw: str, device: str) -> dict[str, Any]:
        return {"case_id": case.id, "framework": fw, "device": device, "device_name": None, "mode": None,
                "call": "", "conversions": [], "plan_reason": "", "verdict": None, "reason": "", "error": None,
                "seconds": None, "expectation": None}

    def _plan_one(self, state: CaseState, fw: str, device: str) -> None:
        case = state.case
        record = self._record(case, fw, device)
        # Adapters plan from these fields alone (and `native:` overrides, never cached), so a
        # suite's many cases of one signature share their plan and repro snippet.
        key = None if case.native else (fw, case.op, case.params, case.input.shape, case.input.dtype, case.grad,
                                        case.upstream)
        known = self._plans.get(key) if key is not None else None
        if known is None:
            try:
                plan = self.modules[fw].plan(case, self.specs[fw].backend)
            except Exception as exc:  # noqa: BLE001 - a planning bug costs one result, not the run
                self._emit(state, record, "error", f"planning failed: {error_text(exc)}")
                return
            known = (plan, plan.conversions(), self._repro(fw, case, plan))
            if key is not None:
                if len(self._plans) >= PLAN_CACHE:
                    self._plans.clear()
                self._plans[key] = known
        plan, conversions, repro = known
        record.update(mode=plan.mode, call=plan.call, conversions=list(conversions), plan_reason=plan.reason,
                      repro=repro)
        if not plan.supported:
            self._emit(state, record, "unsupported", plan.reason)
            return
        state.pending += 1
        self._next_task += 1
        self.queues[fw].append(Task(self._next_task, state, fw, device, plan, record))

    def _repro(self, fw: str, case: Case, plan: Plan) -> str:
        make = getattr(self.modules[fw], "repro", None)
        if make is None or not plan.supported:
            return ""
        try:
            return self._threads_code + str(make(case, plan))
        except Exception as exc:  # noqa: BLE001 - a snippet is a convenience, never a failure
            return f"# repro unavailable: {error_text(exc)}"

    def _dispatch(self) -> list[CaseState]:
        """Send queued tasks to ready workers; settle tasks no worker can take. Returns the cases
        that this settled completely."""
        finished: list[CaseState] = []
        for fw, pool in self.pools.items():
            queue, probe = self.queues[fw], self.probes.get(fw)
            if probe is None:  # still importing
                continue
            if not isinstance(probe, Probe) or not pool:
                verdict, why = "error", f"{fw} worker is not running"
                if isinstance(probe, NotInstalled):
                    verdict, why = "skipped", f"{fw} is not installed here ({probe})"
                elif not isinstance(probe, Probe):
                    why = f"{fw} could not start: {probe}"
                while queue:
                    finished += self._settle(queue.popleft(), verdict, why)
                continue
            for w in pool:
                while queue and w.probe is not None and len(w.batches) < w.depth:
                    if queue[0].attempts and w.batches:  # a retried task runs alone, on an idle worker
                        break
                    batch: list[Task] = []
                    while queue and len(batch) < self._batch_size(fw) and not (batch and queue[0].attempts):
                        task = queue.popleft()
                        if task.device not in probe.devices:
                            finished += self._settle(task, "skipped", f"no {task.device} device visible to {fw}")
                            continue
                        task.record["device_name"] = probe.devices[task.device]
                        batch.append(task)
                        if task.attempts:
                            break
                    if batch:
                        finished += self._send(w, batch)
        return finished

    def _lend_idle_cores(self) -> None:
        """Start one more worker for the framework with the most queued work when a core is idle:
        once the fast frameworks have drained their queues, a slow one (torch-onnx's exports, JAX's
        compiles) would otherwise finish on its one worker while the rest of the machine waits."""
        if not self.config.isolation:
            return
        cores = default_jobs()
        workers = [w for pool in self.pools.values() for w in pool]
        if sum(1 for w in workers if w.batches or w.probe is None) >= cores or len(workers) >= 4 * cores:
            return
        best, seconds = None, LEND_SECONDS
        for fw, queue in self.queues.items():
            count, spent = self._fw_time.get(fw, (0, 0.0))
            pool = self.pools.get(fw) or []
            if not count or not queue or not pool or len(pool) >= cores or not isinstance(self.probes.get(fw), Probe):
                continue
            ahead = len(queue) * spent / count / len(pool)  # its queued time, shared by its workers
            if ahead > seconds:
                best, seconds = fw, ahead
        if best is not None:
            spec, log = self.specs[best], self.config.out / "logs" / f"{best}.log"
            self.pools[best].append(Worker(spec, True, thread_env(self.config.threads), log))
            self.events.append(f"{best}: one more worker for an idle core ({seconds:.0f} s of its work queued)")

    def _batch_size(self, fw: str) -> int:
        """Cases per message: about BATCH_SECONDS of the framework's own time (by its average so
        far), so pipe round trips stop mattering while one slow case never holds many back."""
        if not self.config.isolation:
            return 1
        count, seconds = self._fw_time.get(fw, (0, 0.0))
        if not count:
            return INITIAL_BATCH
        return max(1, min(MAX_BATCH, int(BATCH_SECONDS * count / max(seconds, 1e-9))))

    def _settle(self, task: Task, verdict: str, reason: str) -> list[CaseState]:
        """A task that never reaches a worker: its result is the verdict given."""
        self._emit(task.state, task.record, verdict, reason)
        task.state.pending -= 1
        return [task.state] if task.state.pending == 0 else []

    def _send(self, w: Worker[Task], batch: list[Task]) -> list[CaseState]:
        w.batches.append((time.monotonic(), batch))
        if not w.isolated:
            return []
        assert w.conn is not None
        try:
            self.clock.to("ipc")
            w.conn.send([(t.id, t.state.packed(), t.plan, t.device) for t in batch])
        except (OSError, BrokenPipeError):
            return self._crashed(w, f"worker died ({w.exit_cause()})")
        return []

    def _collect(self, busy: list[Worker[Task]]) -> list[CaseState]:
        finished: list[CaseState] = []
        inproc = [w for w in busy if not w.isolated]
        for w in inproc:
            for task in w.batches.popleft()[1]:
                try:
                    self.clock.to(None)  # the framework's own time, not a harness stage
                    outcome = self.modules[task.framework].execute(
                        task.state.case, task.plan, task.state.x, task.device, task.state.upstream)
                    finished += self._result(task, outcome, None)
                except Exception as exc:  # noqa: BLE001
                    finished += self._result(task, None, error_text(exc))
        procs = [w for w in busy if w.isolated]
        if not procs:
            return finished
        now = time.monotonic()
        case_timeout = self.config.case_timeout
        deadlines = [w.started + STARTUP_TIMEOUT if w.probe is None else w.deadline(case_timeout) for w in procs]
        timeout = max(0.0, min(deadlines) - now)
        ready = wait([w.conn for w in procs], timeout=timeout)  # type: ignore[misc]
        for w in procs:
            if w.probe is None:  # a worker still starting: its first message is its probe
                if w.conn in ready:
                    self._ready(w, w.on_ready_message())
                elif time.monotonic() >= w.started + STARTUP_TIMEOUT:
                    w.kill()
                    self._ready(w, f"worker did not start within {STARTUP_TIMEOUT:.0f}s")
                continue
            if w.conn in ready:
                try:
                    self.clock.to("ipc")
                    replies = w.conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):
                    finished += self._crashed(w, f"worker crashed ({w.exit_cause()})")
                    continue
                finished += self._complete(w, replies)
            elif time.monotonic() >= w.deadline(case_timeout):
                finished += self._crashed(w, f"timed out after {case_timeout:g}s (worker killed)")
        return finished

    def _crashed(self, w: Worker[Task], cause: str) -> list[CaseState]:
        """The worker died or hung: the task it was running gets the error; the others in flight
        (answered or not: a batch's answers come together) go back to the queue, and a task that
        was in flight through MAX_ATTEMPTS deaths without ever being the one running gets it too."""
        running, in_flight = w.running(), w.in_flight()
        task = next((t for t in in_flight if t.id == running), None)
        finished: list[CaseState] = []
        again = []
        for t in in_flight:
            if t is task:
                continue
            t.attempts += 1
            if t.attempts < MAX_ATTEMPTS:
                again.append(t)
            else:
                finished += self._result(t, None, f"{cause}, {t.attempts} times with this case in flight")
        self.queues[w.spec.name].extendleft(reversed(again))
        w.kill()
        w.restarts += 1
        label = f"{task.framework}/{task.device}: case {task.state.case.id}" if task else f"{w.spec.name} (between cases)"
        self.events.append(f"{label}: {cause}; worker restarted")
        # Not waited for here: the loop takes its start-up message as it does at the start, so
        # the other frameworks' work goes on while this one re-imports (TensorFlow: seconds).
        w.start()
        if task is None:
            return finished
        return finished + self._result(task, None, cause)

    def _complete(self, w: Worker[Task], replies: list[tuple[str, int, Any]]) -> list[CaseState]:
        """A batch's answers, in the order sent: all compared, then all written (two clock reads
        for the batch instead of two for every answer)."""
        _, batch = w.batches.popleft()
        by_id = {t.id: t for t in batch}
        count, seconds = self._fw_time.get(w.spec.name, (0, 0.0))
        self.clock.to("compare")
        answers: list[tuple[Task, Any, str | None, dict[str, Any] | None]] = []
        for kind, task_id, payload in replies:
            task = by_id[task_id]
            if kind == "ok":
                count, seconds = count + 1, seconds + payload.seconds
                answers.append((task, payload, None, self._compare(task, payload)))
            else:
                answers.append((task, None, str(payload), None))
        self._fw_time[w.spec.name] = (count, seconds)
        finished: list[CaseState] = []
        for task, outcome, error, cmp in answers:
            finished += self._result(task, outcome, error, cmp)
        return finished

    @staticmethod
    def _compare(task: Task, outcome: Any) -> dict[str, Any]:
        assert task.state.ref is not None  # only a case that was built has tasks
        return compare.compare(task.state.case, task.state.ref, outcome, task.state.x)

    def _result(self, task: Task, outcome: Any, error: str | None, cmp: dict[str, Any] | None = None) -> list[CaseState]:
        """Record a task's answer (compared here unless `cmp` is given) or its error."""
        state, record = task.state, task.record
        if error is not None:
            self._emit(state, record, "error", error, error=error)
        else:
            if cmp is None:
                self.clock.to("compare")
                cmp = self._compare(task, outcome)
            record["seconds"] = outcome.seconds
            if outcome.executed:  # what the framework reported doing (a converter's ops)
                planned = [c for c in record["conversions"] if c != "none"]
                record["conversions"] = planned + list(outcome.executed)
            if outcome.convert_seconds is not None:
                record["convert_seconds"] = outcome.convert_seconds
            label = f"{task.framework}-{task.device}"
            if cmp["shape"] == cmp["ref_shape"]:
                state.outputs[label] = outcome.output
                if cmp["output"]["max_abs"] == 0 and not cmp["output"]["mismatches"]:
                    state.exact.add(label)
            self.writer.array(f"{state.case.id}/{label}/output", outcome.output)
            if outcome.indices is not None:
                self.writer.array(f"{state.case.id}/{label}/indices", outcome.indices)
            verdict, reason = cmp.pop("verdict"), cmp.pop("reason")
            if "window" in cmp and tuple(cmp["window"]["at"]) not in state.focus:
                state.focus.append(tuple(cmp["window"]["at"]))
            record["comparison"] = cmp
            self._emit(state, record, verdict, reason)
        state.pending -= 1
        return [state] if state.pending == 0 else []

    def _emit(self, state: CaseState, record: dict[str, Any], verdict: str, reason: str,
              error: str | None = None) -> None:
        expectation = state.case.expect.get(record["framework"])
        final, note = expectations.apply(verdict, expectation, record["device"])
        record.update(raw_verdict=verdict, verdict=final, reason=note or reason, error=error)
        if expectation is not None:
            record["expectation"] = expectation.as_record()
            if final not in ("known_divergence", "pass") and reason:
                record["reason"] = f"{note}: {reason}" if note else reason
        state.verdicts.append(final)
        if final not in ACCEPTABLE:
            self.failing += 1
        self.clock.to("serialise")
        self.writer.write("result", record, key=(state.order, record["framework"], record["device"]))

    def _finish(self, state: CaseState) -> None:
        case = state.case
        self.open_bytes -= state.nbytes
        self.clock.to("compare")
        agreement = compare.agreement(case, state.outputs, frozenset(state.exact))
        self.clock.to("serialise")
        self._write_case(state, agreement)
        self.done += 1
        if self.on_progress:
            self.on_progress(Progress(self.done, len(self.cases), self.failing, time.time() - self.started))

    def _write_case(self, state: CaseState, agreement: list[dict[str, Any]]) -> None:
        case = state.case
        self.writer.write("case", {
            "id": case.id, "order": state.order, "op": case.op, "description": case.description,
            "tags": list(case.tags), "source": f"{case.source.path}:{case.source.line}",
            "input": {"shape": list(case.input.shape), "dtype": case.input.dtype, "layout": case.input.layout},
            "params": params_dict(case), "grad": case.grad, "yaml": case.yaml_text,
            "ref_shape": None if state.ref is None else list(state.ref.output.shape),
            "input_code": "" if state.x is None else input_code(case, state.x),
            "reference_code": "" if state.ref is None else reference_code(state.ref.output, state.ref.indices),
            "special": [] if state.x is None else evidence.special_values(state.x),
            "agreement": agreement,
            **({"focus": evidence.values_at(state.ref.output, state.outputs, state.focus)}
               if state.focus and state.ref is not None else {}),
        }, key=(state.order,))


class _Stages:
    """The parent's CPU seconds by stage. `to(stage)` charges the time since the last switch to
    the stage that was running and starts `stage` (None: the scheduling loop, not charged). One
    clock read per boundary, none when the stage does not change: process_time is a system call
    (about 1.3 us), and timing each step in a `with` block was a tenth of the per-case work."""

    __slots__ = ("timings", "stage", "t")

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.stage: str | None = None
        self.t = time.process_time()

    def to(self, stage: str | None) -> str | None:
        """Switch to `stage`; returns the stage that was running."""
        previous = self.stage
        if stage != previous:
            now = time.process_time()
            if previous is not None:
                self.timings[previous] += now - self.t
            self.stage, self.t = stage, now
        return previous


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's own peak resident memory (Linux VmHWM). Not ru_maxrss: that also holds the
    size of a parent that started this process with vfork, as Python's subprocess does, so a
    small run started from a big process would report the parent's size."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float | None:
    """Resident memory now (Linux /proc), to tell the runner's steady state from load peaks."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return None


def params_dict(case: Case) -> dict[str, Any]:
    """The parameters after defaults, as plain JSON (shared between cases: do not modify)."""
    return _params_json(case.params)


@functools.lru_cache(maxsize=4096)
def _params_json(p: PoolParams) -> dict[str, Any]:
    return {f.name: _plain(getattr(p, f.name)) for f in fields(p)}


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, tuple) else v


def select_shard(cases: list[Case], shard: tuple[int, int] | None) -> tuple[list[Case], list[int]]:
    """Deterministic 1/N slice (every N-th case from K-1, in suite order), with suite positions."""
    k, n = shard or (1, 1)
    picked = [(i, c) for i, c in enumerate(cases) if i % n == k - 1]
    return [c for _, c in picked], [i for i, _ in picked]
