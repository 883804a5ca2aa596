"""Result records on disk: JSON lines streamed during a run, one results.json at the end.

Schema: docs/results.md. Reporters read only these files; they never run a framework.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError

SCHEMA_VERSION = 1
FLUSH_SECONDS = 1.0


class ResultWriter:
    """Streams records to DIR/results.jsonl (and arrays to DIR/arrays.npz) as they arrive."""

    def __init__(self, out: Path, save_arrays: bool = False) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self._jsonl = open(out / "results.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self._flushed = time.monotonic()
        self._npz = zipfile.ZipFile(out / "arrays.npz", "w", zipfile.ZIP_DEFLATED) if save_arrays else None

    def write(self, kind: str, record: dict[str, Any]) -> None:
        self._jsonl.write(json.dumps({"kind": kind, **record}, allow_nan=False) + "\n")
        now = time.monotonic()
        if now - self._flushed > FLUSH_SECONDS:  # results on disk within a second, without a syscall per line
            self._jsonl.flush()
            self._flushed = now

    def array(self, key: str, value: np.ndarray) -> None:
        if self._npz is None:
            return
        with self._npz.open(key + ".npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)

    def close(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Assemble results.json (atomically) from the streamed lines."""
        self._jsonl.close()
        if self._npz is not None:
            self._npz.close()
        doc = assemble(self.out / "results.jsonl", meta)
        write_json(self.out / "results.json", doc)
        return doc


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def assemble(jsonl: Path, meta: dict[str, Any]) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for rec in iter_jsonl(jsonl):
        kind = rec.pop("kind")
        (cases if kind == "case" else results).append(rec)
    cases.sort(key=lambda c: c["order"])
    order = {c["id"]: c["order"] for c in cases}
    results.sort(key=lambda r: (order.get(r["case_id"], 1 << 60), r["framework"], r["device"]))
    meta = {**meta, "counts": count_verdicts(results)}
    return {"schema_version": SCHEMA_VERSION, "meta": meta, "cases": cases, "results": results}


def count_verdicts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return dict(sorted(counts.items()))


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Atomically, one case or result per line: readable, greppable, and written by json's C
    encoder (an indented dump runs the pure-Python one, ten times slower)."""
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("{")
        for i, (key, value) in enumerate(doc.items()):
            fh.write(("," if i else "") + f"\n{json.dumps(key)}: ")
            if isinstance(value, list):
                fh.write("[" + ",".join("\n " + json.dumps(v, allow_nan=False) for v in value) + "\n]")
            else:
                fh.write(json.dumps(value, indent=1, allow_nan=False))
        fh.write("\n}\n")
    os.replace(tmp, path)


def read_results(path: Path) -> dict[str, Any]:
    """Load a results.json (or the directory holding one), with a clear error if it is not one."""
    if path.is_dir():
        path = path / "results.json"
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read results: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION or "results" not in doc:
        raise HarnessError(f"{path}: not a pool-parity results.json (schema_version {SCHEMA_VERSION})")
    return doc


def merge(docs: list[dict[str, Any]], allow_mismatch: bool = False) -> dict[str, Any]:
    """One document from shard results; framework versions must agree unless allowed."""
    first = docs[0]
    versions = {fw: info.get("versions") for fw, info in first["meta"]["frameworks"].items()}
    for doc in docs[1:]:
        for fw, info in doc["meta"]["frameworks"].items():
            if fw in versions and info.get("versions") != versions[fw] and not allow_mismatch:
                raise HarnessError(f"framework versions differ for {fw}: {versions[fw]} vs {info.get('versions')} "
                                   "(pass --allow-version-mismatch to merge anyway)")
            versions.setdefault(fw, info.get("versions"))
    seen: set[str] = set()
    cases, results = [], []
    for doc in docs:
        for case in doc["cases"]:
            if case["id"] not in seen:
                seen.add(case["id"])
                cases.append(case)
        results.extend(doc["results"])
    meta = dict(first["meta"])
    meta["frameworks"] = {fw: info for doc in docs for fw, info in doc["meta"]["frameworks"].items()}
    meta["duration"] = max(d["meta"].get("duration", 0) for d in docs)
    meta["complete"] = all(d["meta"].get("complete", True) for d in docs)
    meta["events"] = [e for d in docs for e in d["meta"].get("events", [])]
    meta["merged_from"] = len(docs)
    meta["case_count"] = len(cases)
    cases.sort(key=lambda c: (c.get("order", 0), c["id"]))
    order = {c["id"]: c.get("order", 0) for c in cases}
    results.sort(key=lambda r: (order.get(r["case_id"], 0), r["framework"], r["device"]))
    meta["counts"] = count_verdicts(results)
    return {"schema_version": SCHEMA_VERSION, "meta": meta, "cases": cases, "results": results}
