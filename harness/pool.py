"""A framework's worker process as the parent sees it: start it, send it batches, wait for its
answers, and kill and restart it when it crashes or hangs (the loop it runs is worker.py)."""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from harness import adapters
from harness.adapters.base import NotInstalled, Probe
from harness.plan import Plan
from harness.spec import Case
from harness.worker import error_text, pack, serve

STARTUP_TIMEOUT = 300.0
T = TypeVar("T")  # what the runner sends in a batch (run.Task): the worker only keeps and returns them


def _probe(kind: str, payload: Any) -> Probe | str:
    """A worker's start-up message as the parent keeps it."""
    if kind == "ready":
        return payload  # type: ignore[no-any-return]
    return NotInstalled(payload) if kind == "not_installed" else str(payload)


class Worker(Generic[T]):
    """One worker process (or, with isolation off, the adapter called in-process)."""

    def __init__(self, spec: adapters.AdapterSpec, isolated: bool, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.spec, self.isolated, self.log = spec, isolated, log
        self.env = {**(env or {}), **spec.env}
        # Batches sent and not yet answered (with the time each was sent), oldest first: the head
        # is the one running. A second waits in the pipe so the worker never idles while the
        # parent compares results.
        self.batches: deque[tuple[float, list[T]]] = deque()
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self.start()

    @property
    def depth(self) -> int:
        return 2 if self.isolated else 1

    def in_flight(self) -> list[T]:
        return [t for _, batch in self.batches for t in batch]

    def running(self) -> int:
        """The id of the task the worker is running now (0: between tasks)."""
        return int(self.progress[0])

    def deadline(self, timeout: float) -> float:
        """When the running task (or the head batch, if the worker has not started it) times out."""
        return max(self.progress[1], self.batches[0][0] if self.batches else 0.0) + timeout

    def start(self) -> None:
        self.batches = deque()
        self.probe: Probe | str | None = None  # None while the worker is still importing
        self.started = time.monotonic()
        self.progress = self._ctx.RawArray("d", 2)  # [running task id, monotonic start]: see worker.py
        if not self.isolated:
            self.proc, self.conn = None, None
            return
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=serve, args=(child, self.spec.module, self.env, self.progress,
                                                          str(self.log) if self.log else None),
                                      daemon=True, name=f"pool-parity-{self.spec.name}")
        self.proc.start()
        child.close()

    def ready(self) -> Probe | str:
        """Wait for the worker's probe (or the reason it could not start) and keep it."""
        self.probe = self._wait_ready()
        return self.probe

    def on_ready_message(self) -> Probe | str:
        """The start-up message is waiting on the pipe: read it (without blocking)."""
        assert self.conn is not None
        try:
            self.probe = _probe(*self.conn.recv())
        except (EOFError, OSError):
            self.probe = f"worker died while starting ({self.exit_cause()})"
        return self.probe

    def _wait_ready(self) -> Probe | str:
        if not self.isolated:
            try:
                return adapters.load(self.spec).probe()
            except ModuleNotFoundError as exc:
                return NotInstalled(error_text(exc))
            except Exception as exc:  # noqa: BLE001
                return error_text(exc)
        assert self.conn is not None
        if not self.conn.poll(STARTUP_TIMEOUT):
            self.kill()
            return f"worker did not start within {STARTUP_TIMEOUT:.0f}s"
        try:
            return _probe(*self.conn.recv())
        except EOFError:
            return f"worker died while starting ({self.exit_cause()})"

    def exit_cause(self) -> str:
        assert self.proc is not None
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        if code is None:
            return "still running"
        if code < 0:
            sig = -code
            cause = f"killed by signal {sig}" + (" (killed: out of memory?)" if sig == 9 else "")
        else:
            cause = f"exit code {code}"
        if self.log is not None and self.log.exists() and self.log.stat().st_size:
            cause += f"; its messages are in {self.log}"
        return cause

    def call(self, case: Case, plan: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None,
             timeout: float) -> tuple[Any, str | None]:
        """Run one case synchronously: (outcome, None) or (None, error); a dead or hung
        worker is restarted."""
        if not self.isolated:
            try:
                return adapters.load(self.spec).execute(case, plan, x, device, upstream), None
            except Exception as exc:  # noqa: BLE001
                return None, error_text(exc)
        assert self.conn is not None
        try:
            self.conn.send([(1, pack(case, x, upstream), plan, device)])
            if self.conn.poll(timeout):
                [(kind, _, payload)] = self.conn.recv()
                return (payload, None) if kind == "ok" else (None, str(payload))
            cause = f"timed out after {timeout:g}s (worker killed)"
        except (EOFError, OSError):
            cause = f"worker crashed ({self.exit_cause()})"
        self.kill()
        self.start()
        self.ready()
        return None, cause

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.join(timeout=5)

    def ask_stop(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass

    def stop(self) -> None:
        self.ask_stop()
        self.join()

    def join(self) -> None:
        if self.proc is not None:
            self.proc.join(timeout=5)
            self.kill()
