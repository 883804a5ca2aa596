"""Generation: random valid configurations over the whole case space, drawn with Hypothesis.

One draw is a *signature* (op, shape, dtype, parameters, gradient on or off) and four to
twelve inputs for it (generator, magnitude, special values, seed): the inputs share the signature, so
a framework that compiles per signature (JAX's jit, harness/adapters/jaxlax.py) compiles once
for all of them. Shapes come from the small pool SHAPES for the same reason.

Integer attributes are drawn on a log scale with the known boundaries oversampled: padding
k // 2 (PyTorch's limit), oversized padding (a window of padding only), asymmetric pairs,
'same' with even kernels, 'valid', ceil mode with (L + pads - extent) not a multiple of the
stride, a last window that starts in the padding, a kernel at or past the input length,
adaptive outputs of 1, L, a divisor and a non-divisor of L. Inputs: randn / uniform / randint
(with a tie-heavy range) / arange / constant, magnitudes up to the dtype's largest value, and
NaN, +inf, -inf at fractions up to the whole input.

The stream is deterministic for a seed: chunk i is Hypothesis's generate phase run under
@seed(crc32(seed, i)), so the first N configurations are the same whatever the budget. Nothing
here reads a case library.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.internal.conjecture.providers import AVAILABLE_PROVIDERS, HypothesisProvider
from hypothesis.internal.constants_ast import Constants

from harness import semantics
from harness.discover import configs
from harness.discover.configs import Raw
from harness.spec import ADAPTIVE_OPS, DTYPES, FLOAT_DTYPES, GLOBAL_OPS, INT_DTYPES, OPS, Case

SHAPES: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((1, 1, 5), (2, 3, 8), (1, 2, 17), (1, 1, 32)),
    2: ((1, 1, 4, 4), (2, 3, 7, 7), (1, 2, 9, 6), (1, 1, 16, 16)),
    3: ((1, 1, 3, 4, 5), (1, 2, 6, 6, 6), (2, 1, 5, 5, 5)),
}
# Magnitudes besides 1, per dtype: up to the largest finite value (sums of those overflow), except
# float64, whose reference sums in float64 too: no headroom to be right where a framework is not.
SCALES: dict[str, tuple[float, ...]] = {
    "float16": (1e2, 1e4, 3e4, 6e4),
    "bfloat16": (1e2, 1e4, 1e30, 3e38),
    "float32": (1e2, 1e4, 1e30, 3e38),
    "float64": (1e2, 1e4, 1e30, 1e300),  # float64 sums of 1e300 still fit: the reference is float64 too
    "int32": (1e3, 1e6, 2e9),
    "int64": (1e3, 1e6, 1e15),
    "int8": (100.0,),
    "uint8": (100.0, 255.0),
}
# The values an integer dtype holds: a generator is kept inside them (a cast would wrap around).
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}
PAD_STYLES = ("zero", "zero", "symmetric", "half", "oversized", "asymmetric", "same", "valid")
SCENARIOS = ("free", "free", "remainder", "last_in_pad", "kernel_ge_input")
GENERATORS = ("randn", "randn", "uniform", "randint", "ties", "arange", "constant")
SPECIAL_VALUES = ("nan", "inf", "-inf")
FRACTIONS = (0.01, 0.05, 0.2, 0.5, 1.0)
EXAMPLES_PER_CHUNK = 32
INPUTS = (4, 12)  # inputs per signature: each framework compiles a signature once for all of them


def log_int(draw: Any, lo: int, hi: int) -> int:
    """An int in [lo, hi]: both ends oversampled, otherwise each bit length of (v - lo) alike."""
    if hi <= lo:
        return lo
    pick = draw(st.integers(0, 7))
    if pick == 0:
        return lo
    if pick == 1:
        return hi
    bits = draw(st.integers(0, (hi - lo).bit_length() - 1))
    return min(hi, lo + draw(st.integers(2**bits, 2 ** (bits + 1) - 1)))


def _pads(draw: Any, style: str, k: int) -> tuple[int, int]:
    if style in ("zero", "valid", "same"):
        return 0, 0
    if style == "half":
        return k // 2, k // 2
    if style == "symmetric":
        p = log_int(draw, 0, k // 2)
        return p, p
    if style == "oversized":
        p = draw(st.integers(k // 2 + 1, k + 1))
        return p, p
    return log_int(draw, 0, k), log_int(draw, 0, k)


def _fit_stride(span: int, s: int, k: int, good: Any) -> int:
    """The first stride from s up to k + 2 for which good(stride) holds (else s)."""
    for cand in range(max(1, s), k + 3):
        if good(cand):
            return cand
    return s


def _dim(draw: Any, L: int, style: str, ceil: bool, dilated: bool, unpool: bool) -> tuple[int, int, tuple[int, int], int]:
    """(kernel, stride, (before, after), dilation) for one spatial dim of length L."""
    scenario = draw(st.sampled_from(SCENARIOS))
    d = draw(st.integers(2, 3)) if dilated else 1
    if scenario == "kernel_ge_input":
        k = L + draw(st.integers(0, 1))
    elif style == "same" and draw(st.booleans()):
        k = 2 * draw(st.integers(1, max(1, L // 2)))  # even kernels: 'same' pads one more after
    else:
        k = log_int(draw, 1, max(1, L))
    s = k if draw(st.integers(0, 2)) == 0 else log_int(draw, 1, k + 1)
    b, a = _pads(draw, style, k)
    if unpool:  # PyTorch's max_unpool round trip needs padding <= kernel // 2
        b = a = min(b, k // 2)
    eff = semantics.effective_kernel(k, d)
    if style != "same" and L + b + a < eff:
        if d > 1:
            d, eff = 1, k
        if L + b + a < eff:
            a = eff - L - b if style in ("asymmetric", "oversized", "symmetric", "half") and not unpool else a
            if L + b + a < eff:
                k = eff = max(1, L + b + a)
    span = L + b + a - eff
    if scenario == "remainder" and ceil and span > 0:
        s = _fit_stride(span, 2, k, lambda c: span % c != 0)
    elif scenario == "last_in_pad" and not unpool and style != "same":
        if ceil:  # the ceil-mode window that would start in the after-padding (PyTorch drops it)
            a = max(a, 1)
            span = L + b + a - eff
            s = _fit_stride(span, 2, k + a, lambda c: -(-span // c) * c >= L + b)
        else:  # floor mode, stride 1: the last window lies in the after-padding only
            a, s = max(a, eff), 1
    return k, s, (b, a), d


@st.composite
def _windowed(draw: Any, op: str, spatial: tuple[int, ...]) -> dict[str, Any]:
    unpool = op == "max_unpool"
    style = draw(st.sampled_from(("zero", "symmetric", "half") if unpool else PAD_STYLES))
    ceil = not unpool and draw(st.booleans())
    dilated = not unpool and draw(st.integers(0, 4)) == 0
    dims = [_dim(draw, L, style, ceil, dilated, unpool) for L in spatial]
    params: dict[str, Any] = {"kernel_size": [k for k, _, _, _ in dims], "stride": [s for _, s, _, _ in dims]}
    if style in ("same", "valid"):
        params["padding"] = style
    else:
        params["padding"] = [list(p) for _, _, p, _ in dims]
    if not unpool:
        params["dilation"] = [d for _, _, _, d in dims]
        params["ceil_mode"] = ceil
    if op == "avg_pool":
        params["count_include_pad"] = draw(st.booleans())
        if draw(st.integers(0, 4)) == 0:
            params["divisor_override"] = log_int(draw, 1, math.prod(params["kernel_size"]) + 1)
    elif op == "max_pool":
        params["return_indices"] = draw(st.integers(0, 2)) == 0
    elif op == "lp_pool":
        params["norm_type"] = draw(st.sampled_from((2.0, 2.0, 1.0, 3.0, 1.5)))
    return params


def _output_length(draw: Any, L: int) -> int:
    kind = draw(st.sampled_from(("one", "same", "divides", "uneven", "uneven", "larger")))
    divisors = [v for v in range(1, L + 1) if L % v == 0]
    uneven = [v for v in range(2, L) if L % v]
    if kind == "one":
        return 1
    if kind == "same":
        return L
    if kind == "divides" or not uneven:
        return draw(st.sampled_from(divisors))
    if kind == "uneven":
        return draw(st.sampled_from(uneven))
    return draw(st.integers(L + 1, 2 * L))


@st.composite
def _params(draw: Any, op: str, spatial: tuple[int, ...]) -> dict[str, Any]:
    if op in GLOBAL_OPS:
        return {"keepdims": draw(st.booleans())}
    if op in ADAPTIVE_OPS:
        params: dict[str, Any] = {"output_size": [_output_length(draw, L) for L in spatial]}
        if op == "adaptive_max_pool":
            params["return_indices"] = draw(st.integers(0, 2)) == 0
        return params
    return draw(_windowed(op, spatial))


@st.composite
def _input(draw: Any, dtype: str, shape: tuple[int, ...]) -> dict[str, Any]:
    kind = draw(st.sampled_from(GENERATORS))
    big = draw(st.sampled_from((1.0,) * 4 + SCALES[dtype]))
    integer = dtype in INT_DTYPES
    scale = max(big, 10.0) if integer else big
    gen: dict[str, Any] = {"kind": kind, "seed": draw(st.integers(0, 2**31 - 1))}
    if kind == "randn":
        gen["std"] = scale / 8 if scale > configs.LARGE else scale  # within the dtype's range
    elif kind == "uniform":  # high - low must itself be finite
        gen.update(low=-scale / 2, high=scale / 2)
    elif kind == "randint":
        bound = int(min(scale, 2**53))  # integers a float64 holds exactly
        gen.update(low=-bound, high=bound)
    elif kind == "ties":  # few distinct values: tied maxima in most windows
        gen.update(kind="randint", low=0, high=draw(st.integers(1, 3)))
    elif kind == "arange":
        gen["step"] = draw(st.sampled_from((1.0, -1.0, 0.5) if not integer else (1.0, -1.0)))
    else:
        gen["value"] = draw(st.sampled_from((scale, -scale, 0.0)))
    if dtype in INT_RANGES:
        gen = _within(gen, *INT_RANGES[dtype])
    inp: dict[str, Any] = {"shape": list(shape), "dtype": dtype, "generator": gen}
    if not integer:
        inject = draw(st.lists(st.tuples(st.sampled_from(SPECIAL_VALUES), st.sampled_from(FRACTIONS)), max_size=2))
        if inject:
            inp["inject"] = [{"value": v, "fraction": f} for v, f in inject]
    return inp


def _within(gen: dict[str, Any], low: int, high: int) -> dict[str, Any]:
    """A generator for a narrow integer dtype whose values stay in [low, high]."""
    seed = gen.get("seed", 0)
    if gen["kind"] == "constant":
        return {"kind": "constant", "seed": seed, "value": float(min(max(gen["value"], low), high))}
    if gen["kind"] == "arange":
        return {"kind": "arange", "seed": seed, "start": float(max(low, 0)), "step": 1.0}
    top = min(high, max(low + 1, int(gen.get("high", gen.get("std", high)))))
    return {"kind": "randint", "seed": seed, "low": max(low, -top), "high": top}


@st.composite
def group(draw: Any, ops: tuple[str, ...]) -> list[Raw]:
    """One signature and INPUTS inputs for it, as raw configurations (not yet validated)."""
    op = draw(st.sampled_from(ops))
    n = draw(st.sampled_from((1, 2, 3)))
    shape = draw(st.sampled_from(SHAPES[n]))
    dtype = draw(st.sampled_from(DTYPES))
    params = draw(_params(op, shape[2:]))
    grad = dtype in FLOAT_DTYPES and op != "max_unpool" and draw(st.booleans())
    inputs = [draw(_input(dtype, shape)) for _ in range(draw(st.integers(INPUTS[0], INPUTS[1])))]
    return [{"op": op, "input": inp, "params": params, "grad": grad} for inp in inputs]


class _Provider(HypothesisProvider):
    """Hypothesis's own provider without the constants it collects from the source of the
    modules imported so far (constants_ast: "local constants"), which would make a seed's
    stream depend on what else the process had imported and whether pool-parity is an
    editable install, and cache files under ./.hypothesis. Its built-in boundary values stay."""

    @property
    def _local_constants(self) -> Constants:  # type: ignore[override]
        return _NO_CONSTANTS


_NO_CONSTANTS = Constants()
BACKEND = "pool-parity"
AVAILABLE_PROVIDERS[BACKEND] = _Provider  # a Hypothesis backend: settings(backend=BACKEND)


def chunk(seed: int, ops: tuple[str, ...], examples: int = EXAMPLES_PER_CHUNK) -> list[list[Raw]]:
    """Hypothesis's generate phase, `examples` draws of `group`, reproducible for `seed`."""
    found: list[list[Raw]] = []

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, backend=BACKEND)
    @hypothesis_seed(seed)
    @given(group(ops))
    def collect(drawn: list[Raw]) -> None:
        found.append(drawn)

    collect()
    return found


class ConfigStream:
    """Valid, canonical, distinct configurations in a fixed order for a seed: ids g000001, ..."""

    def __init__(self, seed: int, ops: Iterable[str] = OPS) -> None:
        self.seed, self.ops = seed, tuple(ops)
        self._buffer: deque[tuple[Raw, Case]] = deque()
        self._seen: set[bytes] = set()
        self._chunks = 0
        self.count = 0  # configurations handed out
        self.invalid = 0  # draws the loader refused (counted, skipped)

    def take(self, n: int) -> list[tuple[Raw, Case]]:
        while len(self._buffer) < n:
            self._fill()
        out = []
        for _ in range(n):
            raw, case = self._buffer.popleft()
            self.count += 1
            cid = f"g{self.count:06d}"
            raw["id"] = cid
            out.append((raw, replace(case, id=cid)))
        return out

    def _fill(self) -> None:
        salt = zlib.crc32(f"{self.seed}:{self._chunks}".encode())
        self._chunks += 1
        for drawn in chunk(salt, self.ops):
            for raw in drawn:
                raw["id"] = "g"
                case = configs.try_build(raw)
                if case is None:
                    self.invalid += 1
                    continue
                raw = configs.canonical(raw, case)
                k = configs.key(raw)
                if k not in self._seen:
                    self._seen.add(k)
                    self._buffer.append((raw, case))
