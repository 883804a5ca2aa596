"""The normalised case: frozen dataclasses, no I/O. Every per-dim parameter is a tuple."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T")

OPS = (
    "max_pool",
    "avg_pool",
    "lp_pool",
    "global_max_pool",
    "global_avg_pool",
    "adaptive_max_pool",
    "adaptive_avg_pool",
    "max_unpool",
)
WINDOWED_OPS = ("max_pool", "avg_pool", "lp_pool")
GLOBAL_OPS = ("global_max_pool", "global_avg_pool")
ADAPTIVE_OPS = ("adaptive_max_pool", "adaptive_avg_pool")
MAX_OPS = ("max_pool", "global_max_pool", "adaptive_max_pool", "max_unpool")
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
# uint8 / int8: the quantised dtypes of deployment runtimes (ONNX MaxPool takes them, not int32).
INT_DTYPES = ("int32", "int64", "uint8", "int8")
DTYPES = FLOAT_DTYPES + INT_DTYPES


def _pickled_by_fields(cls: type[T]) -> type[T]:
    """Pickle as (class, field values): every case goes to each framework's worker, and the
    reduction slotted frozen dataclasses get by default looks their fields up in Python on every
    dump and sets them one by one on every load (3x slower both ways)."""
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: T) -> tuple[type[T], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]
    return cls


# Verdicts that do not fail a run.
ACCEPTABLE = frozenset({"pass", "unsupported", "known_divergence", "skipped", "tie_break"})


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Source:
    path: str
    line: int


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Injection:
    """Special values written into the generated input: at explicit positions or a fraction."""

    value: float
    at: tuple[tuple[int, ...], ...] = ()
    fraction: float | None = None


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class InputSpec:
    shape: tuple[int, ...]  # channels-first: N, C, spatial...
    dtype: str
    values: tuple[float, ...] | None = None  # flat, channels-first order
    generator: tuple[tuple[str, Any], ...] | None = None  # sorted (key, value) pairs
    inject: tuple[Injection, ...] = ()
    layout: str = "channels_first"  # how the author wrote shape/values
    seed: int = 0

    @property
    def gen(self) -> dict[str, Any]:
        return dict(self.generator or ())


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class PoolParams:
    kernel_size: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    padding: tuple[tuple[int, int], ...] = ()
    padding_mode: str = "explicit"  # explicit | same | valid: how the author wrote it
    dilation: tuple[int, ...] = ()
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None
    return_indices: bool = False
    norm_type: float | None = None
    output_size: tuple[int, ...] | None = None
    keepdims: bool = False

    @property
    def symmetric_padding(self) -> bool:
        return all(b == a for b, a in self.padding)


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Expectation:
    """A declared divergence. One verdict is strict: a result that stops diverging is an
    unexpected_pass. Several verdicts declare behaviour that depends on the machine (CPU
    features, oneDNN, OS): any of them is accepted, `pass` included when listed, and the result
    says which one happened here."""

    verdicts: tuple[str, ...]
    reason: str
    link: str | None = None
    devices: tuple[str, ...] | None = None
    condition: str | None = None  # what the outcome depends on, where the cause is known

    @property
    def machine_dependent(self) -> bool:
        return len(self.verdicts) > 1

    @property
    def verdict(self) -> str:
        """The verdicts as written: 'error', or 'error | pass'."""
        return " | ".join(self.verdicts)

    def as_record(self) -> dict[str, object]:
        """The expectation as results.json holds it (docs/results.md)."""
        return {"verdict": self.verdicts[0] if len(self.verdicts) == 1 else list(self.verdicts),
                "reason": self.reason, "link": self.link, "condition": self.condition,
                "machine_dependent": self.machine_dependent}


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Case:
    id: str
    op: str
    input: InputSpec
    params: PoolParams
    source: Source
    description: str = ""
    grad: bool = False
    upstream: str = "random"  # random | ones
    frameworks: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None
    tolerance: tuple[float, float] | None = None  # (rtol, atol)
    tags: tuple[str, ...] = ()
    expect: dict[str, Expectation] = field(default_factory=dict, hash=False)
    native: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)
    yaml_text: str = ""

    @property
    def spatial_dims(self) -> int:
        return len(self.input.shape) - 2

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.input.shape[2:]
