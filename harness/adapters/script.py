"""Plans as scripts: the code an adapter runs is the code its repro shows.

An adapter writes, once per signature, Python source that defines what runs, and `execute` runs
exactly that source (compiled once per distinct text) and calls what it defines; the repro handed
out is the same source plus the few lines that call it on the case input `x_np`, so it reproduces
the recorded output bit for bit. Adapters name their entry points by what they need:

- frameworks with gradients (torch, keras, jax): `to_tensor(a, device)`, `pool(x)` on the
  framework's channels-first tensors (returning the output, or the output and raw indices),
  `to_numpy(t)` and, where indices are remapped, `finish_indices(i)`; `execute` adds the device,
  the timing and the gradient of sum(pool(x) * upstream);
- inference runtimes (onnxruntime, torch-onnx): `run(x_np) -> (out, indices)` (`Script`);
- litert, flax and paddle: `pool(x_np, upstream)` or the like, said in their modules.

Each plan step the source performs is marked, before the code that performs it, with
`# conversion N: <step>` (`marker`); the block runs to the next blank or comment line. The adapter
conformance kit (tests/test_adapter_conformance.py) removes each block in turn (`without`) and
checks the result changes, so a conversion a plan lists but does not perform is caught.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.adapters.base import Outcome
from harness.plan import Plan, Step

FILENAME = "<pool-parity plan>"
KEPT = 512  # sources (signatures) a worker keeps run
_RUN: dict[str, dict[str, Any]] = {}
_FAILED: dict[str, BaseException] = {}
MARKER = re.compile(r"^\s*# conversion (\d+): ")


def compiled(code: str) -> tuple[dict[str, Any], float | None]:
    """The names a source defines, run once per text, and the seconds running it took (imports, a
    converter's or exporter's work) when it ran now; None when it had run before. A source that
    raised raises the same error again without running a second time (an export failure costs
    its cases, not one retry each)."""
    if code in _FAILED:
        raise _FAILED[code]
    scope = _RUN.get(code)
    if scope is not None:
        return scope, None
    if len(_RUN) >= KEPT:
        del _RUN[next(iter(_RUN))]  # the oldest
    if len(_FAILED) >= KEPT:
        _FAILED.clear()
    scope = {"__name__": "pool_parity_plan"}
    start = time.perf_counter()
    try:
        # Exporters print progress lines on stdout; a worker's stdout is the terminal's.
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, FILENAME, "exec"), scope)  # noqa: S102 - the adapter's own generated code
    except Exception as exc:
        _FAILED[code] = exc
        raise
    _RUN[code] = scope
    return scope, time.perf_counter() - start


def pool_outcome(code: str, x: Any, upstream: Any = None) -> Outcome:
    """Run a script's `pool(x_np, upstream) -> (out, indices or None, grad or None)`; the first
    call of a signature includes the framework's tracing and compiling, its own cost."""
    pool = compiled(code)[0]["pool"]
    start = time.perf_counter()
    out, indices, grad = pool(x, upstream)
    seconds = time.perf_counter() - start
    return Outcome(output=out, indices=indices, grad=grad, dtype=str(out.dtype), seconds=seconds)


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


# ---------------------------------------------------------------- run(x_np) scripts (inference runtimes)

CALL = "out, indices = run(x_np)\nprint(out)\n"


@dataclass(frozen=True)
class Script:
    setup: str  # defines run(x_np) -> (out, indices); indices is None unless the case returns them

    @property
    def text(self) -> str:
        """The whole repro: run after the case's input code (which defines x_np)."""
        return self.setup.rstrip() + "\n\n\n" + CALL


def runner(setup: str) -> Callable[..., Any]:
    """`run` of a setup, run once per text (see `compiled`)."""
    return compiled(setup)[0]["run"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- conversion markers


def marker(index: int, step: Step) -> str:
    return f"# conversion {index}: {step}"


def blocks(text: str) -> dict[int, tuple[int, int]]:
    """Conversion number -> (first, end) line range of its block in the script: the marker and the
    lines after it up to the next blank line or comment."""
    lines = text.splitlines()
    out: dict[int, tuple[int, int]] = {}
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if m is None:
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() and not lines[end].lstrip().startswith("#"):
            end += 1
        out[int(m.group(1))] = (i, end)
    return out


def without(text: str, index: int) -> str:
    """The script with conversion `index`'s block removed (its code lines become `pass`, so that
    the indentation around it stays valid)."""
    first, end = blocks(text)[index]
    lines = text.splitlines()
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    return "\n".join(lines[:first] + [f"{indent}pass"] + lines[end:]) + "\n"


class Steps:
    """A plan's steps and the marked code blocks that perform them, numbered together: `block`
    records a step and returns its marker and code (and the blank line that ends the block), to
    be placed where the step runs."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def block(self, step: Step, *code: str) -> list[str]:
        self.steps.append(step)
        return [marker(len(self.steps), step), *code, ""]
