"""The worker process loop: import one adapter (and its framework) once, serve many cases.

Messages in: (task_id, case, plan, x, device, upstream) or None to stop.
Messages out: ("ready", Probe) | ("probe_error", text) | ("ok", task_id, Outcome) |
("error", task_id, text).
"""

from __future__ import annotations

import importlib
import os
import traceback
from typing import Any


def error_text(exc: BaseException) -> str:
    """The framework's own message, on one line, with the exception type."""
    msg = " ".join(str(exc).split())
    if len(msg) > 500:
        msg = msg[:497] + "..."
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def serve(conn: Any, module: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter hides progress
    try:
        adapter = importlib.import_module(module)
        conn.send(("ready", adapter.probe()))
    except BaseException as exc:  # noqa: BLE001 - any failure to start is reported, not raised
        conn.send(("probe_error", error_text(exc)))
        return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if msg is None:  # skip interpreter teardown: TensorFlow's takes seconds and saves nothing
            conn.close()
            os._exit(0)
        task_id, case, plan, x, device, upstream = msg
        try:
            outcome = adapter.execute(case, plan, x, device, upstream)
            conn.send(("ok", task_id, outcome))
        except Exception as exc:  # noqa: BLE001 - framework errors become results
            if os.environ.get("POOL_PARITY_DEBUG"):
                traceback.print_exc()
            conn.send(("error", task_id, error_text(exc)))
