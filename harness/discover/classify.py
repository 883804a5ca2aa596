"""Classify: the signature of a divergent answer, and the rule that puts divergences in clusters.

A divergence is an answer whose raw verdict is not pass, unsupported or skipped. Its signature
is (framework, raw verdict, kind, op, detail):

- kind says what went wrong, in the comparator's order (the first that applies): `error`;
  `shape`; `dtype`; for the output `output:nan_missing` (the reference has NaN, the answer
  not), `output:nan_extra`, `output:inf_overflow` (an infinity where the reference is finite),
  `output:inf_lost`, `output:inf_sign`, `output:values`; then `indices:...` and `grad:...`
  the same way; a tie_break's `<part>:tie-<rule>`.
- detail: for an error its class, the exception type and the message's head with quoted names,
  numbers, dtype names and bracketed lists taken out (a signal number is kept by name); for a
  shape mismatch the sign of each dim's difference; for a dtype mismatch the answer's dtype.

A cluster is one signature plus the features its shrunk case keeps (configs.features): two
divergences are one cause when their signatures are equal and both shrink to the same features.
An answer whose only difference is a reference value beyond the dtype's range answered as the
value nearest it in that dtype (the matching infinity; an integer dtype's min or max for the
-inf or +inf of a window of padding only) is not a divergence: no answer in that dtype is closer.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.compare import tolerance
from harness.discover.oracle import Answer
from harness.inputs import np_dtype
from harness.spec import FLOAT_DTYPES, Case

NOT_DIVERGENT = ("pass", "unsupported", "skipped")
HARNESS_ERRORS = ("could not build the input", "could not build the reference")  # harness.run._open
# How bad a kind is, for ranking clusters: silent wrong numbers first, loud errors last.
KIND_RANK = {"output": 0, "indices": 1, "grad": 2, "shape": 3, "dtype": 4, "error": 5}


@dataclass(frozen=True, order=True)
class Signature:
    framework: str
    verdict: str  # the raw verdict
    kind: str
    op: str
    detail: str = ""

    def text(self) -> str:
        head = f"{self.framework} {self.verdict} {self.kind} in {self.op}"
        return f"{head}: {self.detail}" if self.detail else head

    def as_dict(self) -> dict[str, str]:
        return {"framework": self.framework, "verdict": self.verdict, "kind": self.kind, "op": self.op,
                "detail": self.detail}

    @property
    def crash(self) -> bool:
        """A worker crash or hang: each run of such a case costs a worker restart."""
        return self.kind == "error" and self.detail.startswith(("worker ", "timed out"))


_DTYPE_WORDS = re.compile(
    r"\b(?:DT_[A-Z0-9]+|u?int(?:8|16|32|64)|float(?:16|32|64)|bfloat16|half|float|double|Int|Long|Half|Float|"
    r"Double|BFloat16|Short|Byte|Bool|bool)\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_BRACKETED = re.compile(r"\[[^\[\]]*\]|\([^()]*\)|\{[^{}]*\}")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_LIST_OF_HOLES = re.compile(r"\?(?:\s*,\s*\?)+")
_TYPE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)):\s*(.*)$", re.S)


def _signal_name(match: re.Match[str]) -> str:
    try:
        return "killed by " + signal.Signals(int(match.group(1))).name
    except ValueError:
        return match.group(0)


def error_class(text: str) -> str:
    """An error message with what varies between cases of one cause taken out."""
    text = " ".join((text or "").split())
    if text.startswith(("worker crashed", "worker died", "timed out")):
        head = re.sub(r"killed by signal (\d+)", _signal_name, text)
        head = re.sub(r";.*?\)", ")", head)  # the log file's path
        return _NUMBER.sub("#", head)
    match = _TYPE.match(text)
    etype, message = (match.group(1), match.group(2)) if match else ("", text)
    for _ in range(3):  # nested brackets, innermost first
        message = _BRACKETED.sub("?", message)
    message = _QUOTED.sub("?", message)
    message = _DTYPE_WORDS.sub("?", message)
    message = _NUMBER.sub("#", message)
    message = _LIST_OF_HOLES.sub("?", message)
    head = re.split(r"\s;\s|;\s|:\s|\.\s|\n", message, maxsplit=1)[0].strip(" .:;")
    head = head[:100]
    return f"{etype}: {head}" if etype else head


def output_kind(case: Case, answer: Answer) -> str | None:
    """How the output differs from the reference (None: it does not, once unrepresentable
    reference values answered as infinities are allowed)."""
    ref, got = answer.reference, answer.output
    if ref is None or got is None or ref.shape != got.shape:
        return None
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(ref, dtype=np.float64)
    g_nan, e_nan = np.isnan(g), np.isnan(e)
    if (e_nan & ~g_nan).any():
        return "nan_missing"
    if (g_nan & ~e_nan).any():
        return "nan_extra"
    g_inf, e_inf = np.isinf(g), np.isinf(e)
    bad = (g_inf | e_inf) & ~(g_nan | e_nan) & (g != e)
    if bad.any():  # the nearest value the dtype holds: its infinity, or an integer's extreme
        if case.input.dtype in FLOAT_DTYPES:
            with np.errstate(over="ignore"):
                rounded = e.astype(np_dtype(case.input.dtype)).astype(np.float64)
        else:
            info = np.iinfo(np_dtype(case.input.dtype))
            rounded = np.where(e == -np.inf, float(info.min), np.where(e == np.inf, float(info.max), e))
        bad &= ~((np.isinf(rounded) | e_inf) & (g == rounded))
    if bad.any():
        if (bad & g_inf & ~e_inf).any():
            return "inf_overflow"
        if (bad & e_inf & ~g_inf).any():
            return "inf_lost"
        return "inf_sign"
    rtol, atol = tolerance(case)
    finite = np.isfinite(g) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        off = finite & (np.abs(g - e) > atol + rtol * np.abs(e))
    return "values" if off.any() else None


def _part_kind(stats: dict[str, Any]) -> str:
    verdict = stats.get("verdict")
    if verdict in ("missing", "shape_mismatch"):
        return "missing" if verdict == "missing" else "shape"
    if stats.get("nan_mismatches"):
        return "nan"
    if stats.get("inf_mismatches"):
        return "inf"
    return "values"


def signature(case: Case, name: str, answer: Answer) -> Signature | None:
    """The signature of a divergent answer, None for one that is not a divergence."""
    rec = answer.record
    verdict = str(rec.get("raw_verdict") or rec.get("verdict"))
    if verdict in NOT_DIVERGENT:
        return None
    cmp = rec.get("comparison") or {}
    if verdict == "error" and ((rec.get("error") or "").startswith(HARNESS_ERRORS)
                               or rec.get("error") is None and "could not start" in (rec.get("reason") or "")):
        return None  # the harness could not build the case, or the framework not start: no answer to judge
    if verdict == "error":
        return Signature(name, verdict, "error", case.op, error_class(rec.get("error") or rec.get("reason") or ""))
    if verdict == "shape_mismatch":
        got, ref = cmp.get("shape", []), cmp.get("ref_shape", [])
        detail = "rank" if len(got) != len(ref) else "".join(
            "+" if a > b else "-" if a < b else "=" for a, b in zip(got, ref))
        return Signature(name, verdict, "shape", case.op, detail)
    if verdict == "dtype_mismatch":
        return Signature(name, verdict, "dtype", case.op, str(cmp.get("dtype")))
    if verdict == "tie_break":
        rules = sorted({str(cmp[p].get("tie_rule")) for p in ("indices", "grad") if (cmp.get(p) or {}).get("tie_rule")})
        part = next((p for p in ("indices", "grad") if (cmp.get(p) or {}).get("verdict") == "tie_break"), "grad")
        return Signature(name, verdict, f"{part}:tie-{'/'.join(rules)}", case.op)
    kind = output_kind(case, answer) if (cmp.get("output") or {}).get("mismatches") else None
    if kind is not None:
        return Signature(name, verdict, f"output:{kind}", case.op)
    for part in ("indices", "grad"):
        stats = cmp.get(part) or {}
        if stats.get("verdict") not in (None, "pass", "tie_break"):
            return Signature(name, verdict, f"{part}:{_part_kind(stats)}", case.op)
    return None  # only unrepresentable values differed


def severity(answer: Answer) -> dict[str, Any]:
    """Max abs / rel / ULP and element counts of the part that diverged (none for an error)."""
    cmp = answer.record.get("comparison") or {}
    for part in ("output", "indices", "grad"):
        stats = cmp.get(part) or {}
        if stats.get("mismatches"):
            return {"part": part, "mismatches": stats["mismatches"], "total": stats["total"],
                    "nan_mismatches": stats.get("nan_mismatches", 0), "inf_mismatches": stats.get("inf_mismatches", 0),
                    "max_abs": stats.get("max_abs"), "max_rel": stats.get("max_rel"), "max_ulp": stats.get("max_ulp")}
    if cmp.get("shape") and cmp.get("shape") != cmp.get("ref_shape"):
        return {"part": "shape", "shape": cmp["shape"], "ref_shape": cmp["ref_shape"]}
    return {"part": "error" if answer.record.get("error") else "none"}


def rank(sig: Signature, sev: dict[str, Any]) -> tuple[float, ...]:
    """Sort key, most severe first: silent wrong values (by share of elements wrong, then
    relative error) before shapes, dtypes and errors."""
    part = sig.kind.split(":")[0]
    share = (sev.get("mismatches") or 0) / max(1, sev.get("total") or 1)
    nonfinite = (sev.get("nan_mismatches") or 0) + (sev.get("inf_mismatches") or 0)
    rel = sev.get("max_rel") or 0.0
    return (KIND_RANK.get(part, 6), -float(nonfinite > 0), -share, -min(rel, 1e300))
