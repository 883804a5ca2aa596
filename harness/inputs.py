"""Seeded input generation: one array per case, in the case dtype, shared by every framework.

The reference upcasts this exact array to float64, so rounding to the case dtype happens once,
here, and never differs between frameworks.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from harness.spec import INT_DTYPES, Case, InputSpec


def np_dtype(name: str) -> np.dtype:
    """NumPy dtype for a case dtype name (bfloat16 comes from ml_dtypes)."""
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def make_input(spec: InputSpec) -> np.ndarray:
    """The case input, channels-first, in the case dtype."""
    shape = spec.shape
    if spec.values is not None:
        data = np.asarray(spec.values, dtype=np.float64).reshape(shape)
    else:
        data = _generate(spec.gen, shape, np.random.default_rng(spec.seed))
    if spec.dtype in INT_DTYPES:
        data = np.rint(data)
    if spec.inject:
        rng = np.random.default_rng(spec.seed + 1)
        for inj in spec.inject:
            if inj.fraction is not None:
                count = max(1, round(inj.fraction * data.size))
                flat = data.reshape(-1)
                flat[rng.choice(data.size, size=count, replace=False)] = inj.value
            for pos in inj.at:
                data[pos] = inj.value
    return data.astype(np_dtype(spec.dtype))


def _generate(gen: dict, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    kind = gen["kind"]
    if kind == "randn":
        return rng.standard_normal(shape) * gen.get("std", 1.0) + gen.get("mean", 0.0)
    if kind == "uniform":
        return rng.uniform(gen.get("low", 0.0), gen.get("high", 1.0), shape)
    if kind == "randint":
        return rng.integers(int(gen.get("low", 0)), int(gen.get("high", 10)), shape).astype(np.float64)
    if kind == "arange":
        size = int(np.prod(shape))
        return (gen.get("start", 0.0) + gen.get("step", 1.0) * np.arange(size)).reshape(shape)
    if kind == "constant":
        return np.full(shape, gen.get("value", 0.0))
    raise ValueError(f"unknown generator kind {kind!r}")  # normalise rejects these first


def make_upstream(case: Case, out_shape: tuple[int, ...]) -> np.ndarray:
    """The upstream gradient for `sum(output * upstream)`, seeded from the case, in the case
    dtype (so that every framework and the reference see the same rounded values)."""
    if case.upstream == "ones":
        up = np.ones(out_shape)
    else:
        up = np.random.default_rng(case.input.seed + 2).standard_normal(out_shape)
    return up.astype(np_dtype(case.input.dtype))
