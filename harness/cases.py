"""Find case files and load them into normalised Cases (stages 1 and 2 together)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

from harness.errors import CaseError, CaseErrors, HarnessError
from harness.load import Budget, Limits, RawCase, SuiteTooLarge, read_file
from harness.normalise import normalise
from harness.spec import Case


def case_files(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """YAML files named directly or found (sorted) under named directories."""
    files: list[Path] = []
    for p in paths or ("cases",):
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*") if f.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise HarnessError(f"{p}: not a case file or a directory of them")
        else:
            raise HarnessError(f"{p}: no such file or directory")
    return files


def load_cases(paths: list[str] | tuple[str, ...] = (), run_seed: int = 0, limits: Limits | None = None) -> list[Case]:
    """Load, validate and expand every case, streaming (a case's parse is garbage before the
    next is read); all problems are raised together, except a suite past `limits.cases`, which
    stops the load at once."""
    errors: list[CaseError] = []
    budget = Budget(limits or Limits())

    def raws() -> Iterator[RawCase]:
        for f in case_files(paths):
            try:
                yield from read_file(f, budget)
            except SuiteTooLarge:
                raise
            except CaseErrors as exc:
                errors.extend(exc.errors)

    collecting = gc.isenabled()
    gc.disable()  # loading makes no cycles; the collector's passes over the growing list cost more than the parse
    try:
        cases = normalise(raws(), run_seed)
    except CaseErrors as exc:
        errors.extend(exc.errors)
        cases = []
    finally:
        if collecting:
            gc.enable()
    if errors:
        raise CaseErrors(errors)
    return cases


__all__ = ["load_cases", "case_files", "CaseError", "CaseErrors"]
