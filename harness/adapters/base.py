"""The adapter protocol. An adapter is a module with these functions (see pytorch.py):

    probe() -> Probe                       versions, devices; imports the framework
    plan(case, backend) -> Plan            pure: no framework import
    execute(case, plan, x, device, upstream) -> Outcome

`x` is the case input (NumPy, case dtype, channels-first); `upstream` is given when the case
asks for a gradient. Outcome arrays are NumPy, in the framework's own layout converted back to
channels-first (the conversions are in the plan).

An adapter writes its call as Python source, one text per signature, that is both what `execute`
runs (harness/adapters/script.py) and the `repro(case, plan)` script handed to the user.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Probe:
    versions: dict[str, str]
    devices: dict[str, str]  # "cpu" / "gpu" -> a device name a person recognises
    env: dict[str, str] = field(default_factory=dict)


class NotInstalled(str):
    """A worker's start-up failure because its framework's package is not installed (a
    ModuleNotFoundError while importing the adapter's framework): its results are `skipped`
    with this reason, not errors. Any other import failure (a broken install) stays an error."""


@dataclass
class Outcome:
    output: np.ndarray
    indices: np.ndarray | None = None
    grad: np.ndarray | None = None
    dtype: str = ""  # the framework's output dtype, by name
    seconds: float = 0.0  # time inside the framework's pooling (and backward) calls
    # Conversions only execution can tell, read back at run time (the ops a converter or an
    # exporter produced, the kernels that ran): appended to the plan's conversions in the result.
    executed: tuple[str, ...] = ()
    convert_seconds: float | None = None  # building the model (conversion), apart from `seconds`


def jax_devices(jax: Any) -> dict[str, str]:
    """The devices an imported `jax` module offers: cpu, and gpu when its GPU backend has one."""
    devices = {"cpu": "cpu"}
    try:
        devices["gpu"] = jax.devices("gpu")[0].device_kind
    except RuntimeError:  # no GPU backend in this jaxlib / on this machine
        pass
    return devices


class Stopwatch:
    """Accumulates the time spent inside framework calls."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def framework(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start
