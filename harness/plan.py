"""Stage 3 data: what an adapter will do for a case, as steps a report can print verbatim.

An adapter builds a Plan without importing its framework (so `explain` works anywhere) and
executes exactly the steps in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODES = ("native", "emulated", "native-override", "unsupported")


@dataclass(frozen=True)
class Transpose:
    perm: tuple[int, ...]
    what: str  # "input NCHW -> NHWC", ...

    def __str__(self) -> str:
        return f"transpose {self.what} (perm {list(self.perm)})"


@dataclass(frozen=True)
class Pad:
    pads: tuple[tuple[int, int], ...]  # per spatial dim (before, after)
    value: float
    why: str

    def __str__(self) -> str:
        return f"pad spatial dims {[list(p) for p in self.pads]} with {self.value:g} ({self.why})"


@dataclass(frozen=True)
class Reshape:
    shape: str  # "(N, C)", ...
    why: str

    def __str__(self) -> str:
        return f"reshape output to {self.shape} ({self.why})"


@dataclass(frozen=True)
class IndexRemap:
    what: str  # "flat over N*C*spatial -> flat per (N, C) plane", ...

    def __str__(self) -> str:
        return f"index remap: {self.what}"


@dataclass(frozen=True)
class Note:
    text: str

    def __str__(self) -> str:
        return self.text


Step = Transpose | Pad | Reshape | IndexRemap | Note


@dataclass(frozen=True)
class Plan:
    mode: str
    call: str = ""  # the framework call, as a person would type it
    steps: tuple[Step, ...] = ()
    reason: str = ""  # why emulated / unsupported
    args: dict[str, Any] = field(default_factory=dict, hash=False)  # what execute needs besides the code
    code: str = ""  # the source that runs: imports, to_tensor, pool, to_numpy (harness/adapters/script.py)

    @property
    def supported(self) -> bool:
        return self.mode != "unsupported"

    def conversions(self) -> list[str]:
        return [str(s) for s in self.steps] or ["none"]


def unsupported(reason: str) -> Plan:
    return Plan(mode="unsupported", reason=reason)
