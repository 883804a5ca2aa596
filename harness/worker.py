"""The worker process loop: import one adapter (and its framework) once, serve many cases.

Messages in: a batch [(task_id, pack(case, x, upstream), plan, device), ...] or None to stop
(a case goes to every framework's worker: it is pickled once).
Messages out: ("ready", Probe) | ("not_installed", text) | ("probe_error", text) once, then a list per batch of
("ok", task_id, Outcome) | ("error", task_id, text). Batches keep pipe traffic (and the process
wake-ups it costs) to one round trip per few cases. While a task runs, `progress` (shared
memory: [task id, time.monotonic() it started]) says which one, so a crash or hang in the middle
of a batch is charged to that case alone.
"""

from __future__ import annotations

import importlib
import multiprocessing.util
import os
import pickle
import queue
import threading
import time
import traceback
from typing import Any


def error_text(exc: BaseException) -> str:
    """The framework's own message, on one line, with the exception type."""
    msg = " ".join(str(exc).split())
    if len(msg) > 500:
        msg = msg[:497] + "..."
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def pack(case: Any, x: Any, upstream: Any) -> bytes:
    return pickle.dumps((case, x, upstream), protocol=pickle.HIGHEST_PROTOCOL)


def serve(conn: Any, module: str, env: dict[str, str], progress: Any, log: str | None = None) -> None:
    if log and not os.environ.get("POOL_PARITY_DEBUG"):
        # The framework's own chatter (TensorFlow's start-up lines, oneDNN notes, a crash's last
        # words) goes to the run's logs/<framework>.log, not through the progress line.
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    os.environ.update(env)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter hides progress
    try:
        adapter = importlib.import_module(module)
        conn.send(("ready", adapter.probe()))
    except ModuleNotFoundError as exc:  # the framework's package is absent: its results are skipped
        conn.send(("not_installed", error_text(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - any failure to start is reported, not raised
        conn.send(("probe_error", error_text(exc)))
        return
    # A thread takes batches off the pipe as they come, so the parent's send never waits on a
    # worker that is itself waiting to send a large answer (a full pipe both ways deadlocks).
    inbox: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_receive, args=(conn, inbox), daemon=True).start()
    while True:
        batch = inbox.get()
        if batch is None:  # stop (or the parent is gone): skip interpreter teardown, TF's takes seconds
            conn.close()
            # ... but release what multiprocessing registered with the parent's resource tracker
            # (tqdm's lock, made by torch.fx during torch.onnx.export), or the tracker warns of a
            # leaked semaphore when the run ends.
            multiprocessing.util._run_finalizers(0)  # type: ignore[attr-defined]
            os._exit(0)
        replies = []
        for task_id, packed, plan, device in batch:
            progress[1] = time.monotonic()
            progress[0] = task_id
            try:
                case, x, upstream = pickle.loads(packed)
                replies.append(("ok", task_id, adapter.execute(case, plan, x, device, upstream)))
            except Exception as exc:  # noqa: BLE001 - framework errors become results
                if os.environ.get("POOL_PARITY_DEBUG"):
                    traceback.print_exc()
                replies.append(("error", task_id, error_text(exc)))
        progress[0] = 0
        progress[1] = time.monotonic()
        conn.send(replies)


def _receive(conn: Any, inbox: queue.Queue[Any]) -> None:
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            msg = None
        inbox.put(msg)
        if msg is None:
            return
