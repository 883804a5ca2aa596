"""Plans as scripts: the code an adapter runs is the code its repro shows.

An adapter's `plan()` writes, as plain source (`Plan.code`), everything its framework call needs:
the imports, `to_tensor(a, device)` (NumPy, channels-first -> the framework's tensor), `pool(x)`
(the pooling with every conversion the plan lists: transposes, pads, masks, window sums and
divisors; it returns the output, or the output and the raw indices), `to_numpy(t)` and, where the
plan remaps indices, `finish_indices(i)`. `execute()` runs exactly that source (compiled once per
distinct source), adding only what a script cannot say by itself: the device, the timing and the
gradient of sum(pool(x) * upstream). The repro is the same source plus a few lines that call it on
`x_np`, so it reproduces the recorded output bit for bit.
"""

from __future__ import annotations

import time
from typing import Any

from harness.plan import Plan

FILENAME = "<pool-parity plan>"
KEPT = 512  # sources (signatures) a worker keeps run
_RUN: dict[str, dict[str, Any]] = {}


def compiled(code: str) -> tuple[dict[str, Any], float | None]:
    """The names a plan's code defines (to_tensor, pool, to_numpy, ...), run once per source, and
    the seconds running it took (imports, a converter's work) when it ran now; None when it had
    run before."""
    scope = _RUN.get(code)
    if scope is not None:
        return scope, None
    scope = {"__name__": "pool_parity_plan"}
    start = time.perf_counter()
    exec(compile(code, FILENAME, "exec"), scope)  # noqa: S102 - the adapter's own generated code
    seconds = time.perf_counter() - start
    if len(_RUN) >= KEPT:
        del _RUN[next(iter(_RUN))]  # the oldest
    _RUN[code] = scope
    return scope, seconds


def namespace(code: str) -> dict[str, Any]:
    """compiled(code)'s names."""
    return compiled(code)[0]


def finish_indices(plan: Plan, indices: Any) -> Any:
    """The plan's index remap (identity when it has none) on NumPy indices."""
    finish = namespace(plan.code).get("finish_indices")
    return indices if finish is None else finish(indices)


def repro(plan: Plan, call: str) -> str:
    """The standalone script: the plan's code, then `call` (which leaves `out`, and `indices`
    when the case returns them), then print(out)."""
    return f"{plan.code.rstrip()}\n\n\n{call.strip()}\nprint(out)\n"
