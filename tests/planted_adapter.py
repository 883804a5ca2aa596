"""Stand-in frameworks with planted divergences, for the discovery tests.

Modelled on benchmarks/standin_adapter.py: the answer is the float64 reference rounded to the
case dtype (averages of integers stay float64, as a framework's true division gives), so a
framework with no plant agrees with the reference everywhere. Three plants, each one cause:

- wrong divisor on ceil windows: avg_pool in ceil mode divides a window that holds real input
  and reaches into the ceil-mode overhang by the full kernel size (the overhang counted), every
  other window right (a window of padding only keeps the reference's 0/0 = NaN: what an empty
  window gives is another question, and would be another cause);
- NaN dropped: max_pool ignores NaN (it pools the input with NaN read as -inf);
- an error on one dtype: avg_pool raises for float16.

tests/clean_adapter.py is the same stand-in without the plants.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from harness import reference, semantics
from harness.adapters.base import Outcome, Probe
from harness.plan import Plan
from harness.spec import INT_DTYPES, MAX_OPS, Case

FLOAT16_ERROR = "planted: avg_pool has no float16 kernel"


def probe() -> Probe:
    return Probe(versions={"planted": "1"}, devices={"cpu": "cpu"})


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "planted(x)")


def _planted_windows(case: Case) -> np.ndarray:
    """True for each output window (over the spatial output shape) that reads real input and
    has a tap beyond the padded extent (in the ceil-mode overhang)."""
    p, over, real = case.params, [], []
    for L, k, s, pad, d in zip(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation):
        out = semantics.pooled_length(L, k, s, pad, d, p.ceil_mode)
        pos, in_input, _ = semantics.window_taps(L, k, s, pad, d, out)
        over.append((pos >= L + pad[1]).any(axis=1))
        real.append(in_input.any(axis=1))
    return _any_dim(over) & _all_dims(real)


def _grid(flags: list[np.ndarray], combine: str) -> np.ndarray:
    grid = np.full(tuple(len(f) for f in flags), combine == "all")
    for axis, f in enumerate(flags):
        shape = [1] * len(flags)
        shape[axis] = len(f)
        grid = (grid & f.reshape(shape)) if combine == "all" else (grid | f.reshape(shape))
    return grid


def _any_dim(flags: list[np.ndarray]) -> np.ndarray:
    return _grid(flags, "any")


def _all_dims(flags: list[np.ndarray]) -> np.ndarray:
    return _grid(flags, "all")


def _answer(case: Case, x: np.ndarray, upstream: np.ndarray | None, planted: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if planted and case.op == "avg_pool" and case.input.dtype == "float16":
        raise TypeError(FLOAT16_ERROR)
    if planted and case.op == "max_pool":
        x = np.where(np.isnan(x), -np.inf, x).astype(x.dtype)
    ref = reference.compute(case, x, upstream)
    out = ref.output
    if planted and case.op == "avg_pool" and case.params.ceil_mode and case.params.divisor_override is None:
        sums = reference.compute(replace(case, params=replace(case.params, divisor_override=1)), x, None).output
        out = np.where(_planted_windows(case), sums / math.prod(case.params.kernel_size), out)
    return out, ref.indices, ref.grad


def execute(case: Case, plan: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None,
            planted: bool = True) -> Outcome:
    out, indices, grad = _answer(case, x, upstream, planted)
    keeps_dtype = case.op in MAX_OPS or case.input.dtype not in INT_DTYPES
    out = out.astype(x.dtype) if keeps_dtype else out
    return Outcome(output=out, indices=indices, grad=None if grad is None else grad.astype(x.dtype),
                   dtype=str(out.dtype))


def repro(case: Case, plan_: Plan) -> str:
    """The stand-in's own 'framework call': it has none, so the script prints the input (what
    the test checks is that the script is the case's input code plus this, and runs alone)."""
    return "out = x_np  # planted stand-in: see tests/planted_adapter.py\nprint(out)"
