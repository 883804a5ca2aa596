"""An adapter whose framework is installed but broken (an ImportError that is not a missing
module, as a wheel built for another CPU or a missing shared library gives)."""

from __future__ import annotations

from harness.adapters.base import Probe
from tests.absent_adapter import execute, plan  # noqa: F401 - the same protocol functions


def probe() -> Probe:
    raise ImportError("libframework.so: cannot open shared object file")
