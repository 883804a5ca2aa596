"""Adapters whose implementation is their repro script (the repro contract: the script is the
implementation). An adapter builds Python source once per signature: a setup (imports, the model,
the session or export: whatever is costly) that defines `run(x_np) -> (out, indices)`, and a call.
`execute` runs the setup once per signature and calls `run` per case; the repro is the same setup
followed by the call, so what a report hands out is exactly what ran.

Each plan step the script performs is preceded by a marker comment, `# conversion N: <step>`,
and followed by the code that performs it, then a blank line (the block ends at the next blank or
comment line, so code after it must not follow without one): the adapter
conformance kit removes each such block in turn and checks the result changes, so a conversion the
plan lists but the script does not perform is caught.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.plan import Step

CALL = "out, indices = run(x_np)\nprint(out)\n"
MARKER = re.compile(r"^\s*# conversion (\d+): ")


@dataclass(frozen=True)
class Script:
    setup: str  # defines run(x_np) -> (out, indices); indices is None unless the case returns them

    @property
    def text(self) -> str:
        """The whole repro: run after the case's input code (which defines x_np)."""
        return self.setup.rstrip() + "\n\n\n" + CALL


def marker(index: int, step: Step) -> str:
    return f"# conversion {index}: {step}"


_RUNS: dict[str, Callable[..., Any]] = {}
_FAILED: dict[str, BaseException] = {}
MAX_SCRIPTS = 512


def runner(setup: str) -> Callable[..., Any]:
    """`run` of a setup, executed once (a setup that raised raises the same error again, without
    building the model a second time: an export failure costs its case, not a retry per case)."""
    if setup in _FAILED:
        raise _FAILED[setup]
    fn = _RUNS.get(setup)
    if fn is None:
        if len(_RUNS) >= MAX_SCRIPTS:
            _RUNS.clear()
        scope: dict[str, Any] = {"__name__": "pool_parity_script"}
        try:
            # Exporters print progress lines on stdout; a worker's stdout is the terminal's.
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(setup, "<pool-parity script>", "exec"), scope)  # noqa: S102 - our own source
        except Exception as exc:
            if len(_FAILED) >= MAX_SCRIPTS:
                _FAILED.clear()
            _FAILED[setup] = exc
            raise
        fn = _RUNS[setup] = scope["run"]
    return fn


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
