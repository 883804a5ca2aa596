"""Shared test helpers: build cases from YAML text the way users write them."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.load import read_file
from harness.normalise import normalise
from harness.spec import Case

ROOT = Path(__file__).resolve().parent.parent


def case_from(op: str, shape: list[int], params: dict | None = None, tmp: Path | None = None, **extra) -> Case:
    """One normalised case from plain Python values (written to YAML and loaded)."""
    inp = extra.pop("input", None) or {"shape": shape, "generator": {"kind": "randn", "seed": 7}}
    inp.setdefault("shape", shape)
    body = {"id": extra.pop("id", "t"), "op": op, "input": inp, "params": params or {}, **extra}
    path = (tmp or Path("/tmp")) / f"case-{abs(hash(yaml.safe_dump(body)))}.yaml"
    path.write_text(yaml.safe_dump({"cases": [body]}, sort_keys=False))
    return normalise(read_file(path))[0]


def seed_cases() -> dict[str, Case]:
    return {c.id: c for c in normalise(read_file(ROOT / "cases" / "seeds.yaml"))}
