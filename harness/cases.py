"""Find case files and load them into normalised Cases (stages 1 and 2 together)."""

from __future__ import annotations

from pathlib import Path

from harness.errors import CaseError, CaseErrors, HarnessError
from harness.load import read_file
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
        else:
            raise HarnessError(f"{p}: no such file or directory")
    return files


def load_cases(paths: list[str] | tuple[str, ...] = (), run_seed: int = 0) -> list[Case]:
    """Load, validate and expand every case; all problems are raised together."""
    raws, errors = [], []
    for f in case_files(paths):
        try:
            raws.extend(read_file(f))
        except CaseErrors as exc:
            errors.extend(exc.errors)
    try:
        cases = normalise(raws, run_seed)
    except CaseErrors as exc:
        errors.extend(exc.errors)
        cases = []
    if errors:
        raise CaseErrors(errors)
    return cases


__all__ = ["load_cases", "case_files", "CaseError", "CaseErrors"]
