"""Shrink: a cluster's first example to a 1-minimal case, with its signature as the predicate.

`candidates(raw, case)` lists two jumps (every feature to its default; every size halved),
then every single step of the shrink list, most reducing first:
drop a spatial dim; N or C to 1; gradient off; dtype to float32 (int64 to int32); each
parameter to its default; an injected special value fewer (an injection removed, its fraction
halved, written as explicit positions, one position fewer); the input to a simpler generator
(constant, then arange) or a smaller magnitude; then halving and one-smaller of each spatial
length, kernel, stride, padding side, dilation and output size (and a length one stride shorter, which keeps the
last window's remainder), and sideways moves that keep the windows but drop a parameter
(length and kernel one smaller together; a dim's padding, or its dilation, traded for input
length). Every candidate is normalised by the loader; one it refuses
is not run.

`Shrinker` walks them: candidates are run in order, a chunk at a time (a batch for the
oracle), and the first whose signature equals the cluster's is taken; when no candidate keeps
the signature the case is 1-minimal (no single step of the list keeps it). Effort is capped by
evaluations, as Hypothesis caps its shrinker, and what was spent is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from harness.discover import configs
from harness.discover.classify import Signature
from harness.discover.configs import Raw
from harness.inputs import make_input
from harness.spec import ADAPTIVE_OPS, Case

PER_DIM = configs.PER_DIM
RANDOM_KINDS = ("randn", "uniform", "randint")
MAX_CHUNK = 16
MAX_POSITIONS = 4  # an injection touching this few elements is written as explicit positions


def _per_dim_values(case: Case, name: str) -> list[int] | None:
    value = getattr(case.params, name)
    return list(value) if value else None


def _structure(raw: Raw, case: Case) -> list[tuple[str, Raw]]:
    """Fewer dims, N / C to 1, gradient off, simpler dtype, parameters to their defaults."""
    out: list[tuple[str, Raw]] = []
    n, shape, dtype = case.spatial_dims, list(case.input.shape), case.input.dtype
    for d in range(n if n > 1 else 0):
        out.append((f"drop spatial dim {d}", configs.drop_dim(raw, case, d)))
    for d in range(1, n):
        out.append((f"fold spatial dim {d} into {d - 1}", configs.fold_dim(raw, case, d)))
    for axis, label in ((0, "N"), (1, "C")):
        if shape[axis] > 1:
            out.append((f"{label} to 1", configs.with_shape(raw, shape[:axis] + [1] + shape[axis + 1 :])))
    if raw.get("grad"):
        out.append(("gradient off", {k: v for k, v in raw.items() if k != "grad"}))
    for target in ("float32", "int32"):
        if dtype != target and (target == "float32" or dtype == "int64"):
            new = configs.clone(raw)
            new["input"]["dtype"] = target
            out.append((f"dtype to {target}", new))
    required = {"kernel_size", "norm_type"} | ({"output_size"} if case.op in ADAPTIVE_OPS else set())
    for name in raw.get("params", {}):
        if name not in required:
            new = configs.clone(raw)
            del new["params"][name]
            out.append((f"{name} to default", new))
    if case.op == "lp_pool" and case.params.norm_type != 2:
        out.append(("norm_type to 2", configs.with_param(raw, "norm_type", 2.0)))
    return out


def _count(fraction: float, size: int) -> int:
    return max(1, round(fraction * size))  # as harness.inputs.make_input injects


def _positions(case: Case, value: Any) -> list[list[int]]:
    try:
        x = make_input(case.input).astype(np.float64)
    except Exception:  # noqa: BLE001 - an input the harness cannot build has no positions to offer
        return []
    v = float(value)
    hit = np.isnan(x) if np.isnan(v) else x == v
    return [list(map(int, p)) for p in np.argwhere(hit)]


def _input(raw: Raw, case: Case) -> list[tuple[str, Raw]]:
    """Fewer special values, a simpler generator, a smaller magnitude."""
    out: list[tuple[str, Raw]] = []
    inject = raw["input"].get("inject", [])
    size = int(np.prod(case.input.shape))
    for i, inj in enumerate(inject):
        rest = [x for j, x in enumerate(inject) if j != i]
        out.append((f"no {inj['value']} injection", configs.with_input(raw, inject=rest)))
        if "fraction" in inj:
            count = _count(inj["fraction"], size)
            if _count(inj["fraction"] / 2, size) < count:
                out.append((f"{inj['value']} fraction halved", configs.with_input(raw, inject=configs.replaced(inject, i, {**inj, "fraction": inj["fraction"] / 2}))))
            if count <= MAX_POSITIONS:
                at = _positions(case, case.input.inject[i].value)
                if at:
                    out.append((f"{inj['value']} at explicit positions", configs.with_input(raw, inject=configs.replaced(inject, i, {"value": inj["value"], "at": at}))))
        elif len(inj["at"]) > 1:
            for j in range(len(inj["at"])):
                at = inj["at"][:j] + inj["at"][j + 1 :]
                out.append((f"{inj['value']} at one position fewer", configs.with_input(raw, inject=configs.replaced(inject, i, {**inj, "at": at}))))
    gen = raw["input"]["generator"]
    seed = gen.get("seed", 0)
    if gen["kind"] in RANDOM_KINDS + ("arange",):
        out.append(("input to constant 1", configs.with_input(raw, generator={"kind": "constant", "seed": seed, "value": 1.0})))
        big = configs.scale(case)
        if big >= configs.LARGE:
            out.append(("input to a large constant", configs.with_input(raw, generator={"kind": "constant", "seed": seed, "value": big})))
    if gen["kind"] in RANDOM_KINDS:
        out.append(("input to arange", configs.with_input(raw, generator={"kind": "arange", "seed": seed})))
    magnitudes = {k: v for k, v in gen.items() if k in ("mean", "std", "low", "high", "value", "step") and abs(v) > 1}
    if magnitudes:
        ones = {k: (1 if v > 0 else -1) for k, v in magnitudes.items()}
        out.append(("input magnitude to 1", configs.with_input(raw, generator={**gen, **ones})))
        tenth = {k: (round(v / 10) if gen["kind"] == "randint" else v / 10) for k, v in magnitudes.items()}
        out.append(("input magnitude / 10", configs.with_input(raw, generator={**gen, **tenth})))
    return out


def _sizes(raw: Raw, case: Case) -> list[tuple[str, Raw]]:
    """Halving, then sideways moves, then one smaller, of every size."""
    halves: list[tuple[str, Raw]] = []
    sideways: list[tuple[str, Raw]] = []
    ones: list[tuple[str, Raw]] = []
    shape = list(case.input.shape)
    for d in range(case.spatial_dims):
        L = shape[2 + d]
        for new_L, bucket, how in ((L // 2, halves, "halved"), (L - 1, ones, "one smaller")):
            if 1 <= new_L < L:
                bucket.append((f"length {d} {how}", configs.with_shape(raw, shape[: 2 + d] + [new_L] + shape[3 + d :])))
    for axis, label in ((0, "N"), (1, "C")):
        if shape[axis] > 2:
            ones.append((f"{label} one smaller", configs.with_shape(raw, shape[:axis] + [shape[axis] - 1] + shape[axis + 1 :])))
    for name in PER_DIM:
        values = _per_dim_values(case, name)
        if values is None or (name == "output_size" and case.op not in ADAPTIVE_OPS and "output_size" not in raw.get("params", {})):
            continue
        for d, v in enumerate(values):
            for new_v, bucket, how in ((v // 2, halves, "halved"), (v - 1, ones, "one smaller")):
                if 1 <= new_v < v:
                    bucket.append((f"{name} {d} {how}", configs.with_param(raw, name, configs.replaced(values, d, new_v))))
    if case.op not in ("global_max_pool", "global_avg_pool") and case.op not in ADAPTIVE_OPS:
        pads = configs.explicit_pads(case)
        if raw.get("params", {}).get("padding") != "same":
            for d, (b, a) in enumerate(pads):
                for side, v in ((0, b), (1, a)):
                    for new_v, bucket, how in ((v // 2, halves, "halved"), (v - 1, ones, "one smaller")):
                        if 0 <= new_v < v:
                            pair = [new_v, a] if side == 0 else [b, new_v]
                            bucket.append((f"padding {d} {'before' if side == 0 else 'after'} {how}",
                                           configs.with_param(raw, "padding", configs.replaced(pads, d, pair))))
                if b or a:
                    longer = configs.with_shape(raw, shape[: 2 + d] + [shape[2 + d] + b + a] + shape[3 + d :])
                    sideways.append((f"padding {d} traded for length", configs.with_param(longer, "padding", configs.replaced(pads, d, [0, 0]))))
        kernel, stride, dilation = list(case.params.kernel_size), list(case.params.stride), list(case.params.dilation)
        for d, k in enumerate(kernel):
            L = shape[2 + d]
            if k > 1 and L > 1:
                both = configs.with_shape(raw, shape[: 2 + d] + [L - 1] + shape[3 + d :])
                sideways.append((f"length and kernel {d} one smaller", configs.with_param(both, "kernel_size", configs.replaced(kernel, d, k - 1))))
            if stride[d] > 1 and L > stride[d]:  # the same windows but the last, and the same remainder
                halves.append((f"length {d} one stride shorter", configs.with_shape(raw, shape[: 2 + d] + [L - stride[d]] + shape[3 + d :])))
            if dilation[d] > 1 and L > (dilation[d] - 1) * (k - 1):  # the same span, undilated
                shorter = configs.with_shape(raw, shape[: 2 + d] + [L - (dilation[d] - 1) * (k - 1)] + shape[3 + d :])
                sideways.append((f"dilation {d} traded for length", configs.with_param(shorter, "dilation", configs.replaced(dilation, d, 1))))
    divisor = case.params.divisor_override
    if divisor is not None and divisor > 1:
        ones.append(("divisor_override one smaller", configs.with_param(raw, "divisor_override", divisor - 1)))
    return halves + sideways + ones


def _jumps(raw: Raw, case: Case) -> list[tuple[str, Raw]]:
    """Many steps at once, tried first (a random configuration has many features its
    divergence does not need): every feature to its default; every size halved."""
    out: list[tuple[str, Raw]] = []
    if configs.features(case):
        plain = configs.reset(raw, case, frozenset())
        if plain is not None:
            out.append(("every feature to its default", plain))
    if any(L > 1 for L in case.spatial_shape):
        out.append(("every size halved", configs.halved(raw, case)))
    return out


def candidates(raw: Raw, case: Case) -> list[tuple[str, Raw]]:
    """The shrink steps of raw, in the order they are tried (not yet validated): two jumps of
    many steps, then every single step."""
    return _jumps(raw, case) + _structure(raw, case) + _input(raw, case) + _sizes(raw, case)


@dataclass
class Shrinker:
    """Greedy shrinking of one example under its signature, fed by a batched oracle:
    `batch()` hands out the next candidates to run, `feed()` takes their signatures."""

    raw: Raw
    case: Case
    signature: Signature
    cap: int = 100  # candidate evaluations at most
    chunk: int = 4  # candidates in the first batch after a step; doubled (to max_chunk) while none keeps it
    max_chunk: int = MAX_CHUNK
    steps: list[str] = field(default_factory=list)
    evaluations: int = 0
    invalid: int = 0
    skipped: int = 0
    done: bool = False
    minimal: bool = False
    _queue: list[tuple[str, Raw, Case]] = field(default_factory=list)
    _fresh: bool = True
    _seen: set[bytes] = field(default_factory=set)
    _sent: list[tuple[str, Raw, Case]] = field(default_factory=list)
    _width: int = 0

    def __post_init__(self) -> None:
        self._seen.add(configs.key(self.raw))
        self._width = self.chunk

    def batch(self, make_id: Callable[[], str], skip: Callable[[Case], bool] | None = None) -> list[tuple[str, Raw, Case]]:
        """The next candidates (ids given by make_id), or [] when done. Candidates `skip` says
        not to run (they would crash a worker) count as not keeping the signature."""
        if self.done:
            return []
        if self._fresh:
            self._queue = self._valid(candidates(self.raw, self.case))
            if skip is not None:
                kept = [c for c in self._queue if not skip(c[2])]
                self.skipped += len(self._queue) - len(kept)
                self._queue = kept
            self._fresh = False
        if not self._queue:
            self.done = self.minimal = True
            return []
        room = self.cap - self.evaluations
        if room <= 0:
            self.done = True
            return []
        self._sent = self._queue[: min(self._width, room)]
        del self._queue[: len(self._sent)]
        renamed = []
        for name, raw, case in self._sent:
            raw["id"] = make_id()
            renamed.append((name, raw, replace(case, id=raw["id"])))
        self._sent = renamed
        self.evaluations += len(self._sent)
        return self._sent

    def feed(self, answers: list[Signature | None]) -> bool:
        """The signatures of the last batch, in order; True when a step was taken."""
        for (name, raw, case), sig in zip(self._sent, answers):
            if sig == self.signature:
                self.raw, self.case = raw, case
                self.steps.append(name)
                self._fresh = True
                self._sent = []
                self._width = self.chunk
                return True
        self._sent = []
        self._width = min(2 * self._width, self.max_chunk)
        return False

    def _valid(self, listed: list[tuple[str, Raw]]) -> list[tuple[str, Raw, Case]]:
        out = []
        for name, raw in listed:
            raw["id"] = self.raw["id"]
            for where in ("frameworks", "devices"):  # candidates run where the example diverged
                if where in self.raw:
                    raw[where] = self.raw[where]
            case = configs.try_build(raw)
            if case is None:
                self.invalid += 1
                continue
            raw = configs.canonical(raw, case)
            k = configs.key(raw)
            if k in self._seen:
                continue
            self._seen.add(k)
            out.append((name, raw, case))
        return out
