"""RunConfig and the one place environment variables that change results are read."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
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
    threads: int | None = None  # framework intra-op threads per worker; None: the framework's default
    save_arrays: bool = False
    shard: tuple[int, int] | None = None  # (k, n), 1-based k
    progress: bool = True


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


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment that caps each framework's intra-op thread pool (variables the user already
    set win). Pooling small tensors gains nothing from threads, and several workers each running
    a pool per core only fight over the cores."""
    if threads is None:
        return {}
    return {k: str(threads) for k in THREAD_VARS if k not in os.environ}


def threads_code(threads: int | None) -> str:
    """Code that gives a repro script the thread settings the run's workers had (what the user set
    and what --threads set): some kernels split their work, and round, by the thread count (torch's
    3-D lp pooling seen), so a script run with more threads is not bit for bit the run."""
    values = {**{k: os.environ[k] for k in THREAD_VARS if k in os.environ}, **thread_env(threads)}
    if not values:
        return ""
    return (f"import os\n\nos.environ.update({values!r})  # the run's worker threads, before any framework "
            "is imported\n\n")


def default_threads(workers: int) -> int | None:
    """One thread per worker once the workers alone fill the cores."""
    return 1 if workers >= default_jobs() else None


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
