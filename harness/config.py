"""RunConfig and the one place environment variables that change results are read."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

# Variables that change framework results (TF oneDNN changes NaN handling and rounding).
RECORDED_ENV = ("TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "KERAS_BACKEND", "JAX_ENABLE_X64",
                "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "TF_XLA_FLAGS")


@dataclass(frozen=True)
class RunConfig:
    paths: tuple[str, ...] = ("cases",)
    frameworks: tuple[str, ...] = ("torch", "keras", "jax")
    devices: tuple[str, ...] = ("cpu",)
    out: Path = Path("reports/latest")
    seed: int = 0
    jobs: int = 1
    case_timeout: float = 120.0
    isolation: bool = True
    save_arrays: bool = False
    shard: tuple[int, int] | None = None  # (k, n), 1-based k
    progress: bool = True
    select: tuple[str, ...] = field(default_factory=tuple)  # substrings of case ids


def environment() -> dict[str, object]:
    """Platform facts and result-changing variables, recorded in every report."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "env": {k: os.environ.get(k) for k in RECORDED_ENV},
    }


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
