"""Result records on disk: JSON lines streamed during a run, one results.json at the end.

Schema: docs/results.md. Reporters read only these files; they never run a framework.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from harness.errors import HarnessError

SCHEMA_VERSION = 1
FLUSH_SECONDS = 1.0


def _encode(record: Mapping[str, Any]) -> bytes:
    """One record as compact JSON (orjson: a tenth of json's time, which was a sixth of the
    harness's per-case work). NaN or an infinity, which no record should hold (compare writes
    them as strings), would become null rather than stop the run."""
    return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)


class ResultWriter:
    """Streams records to DIR/results.jsonl (and arrays to DIR/arrays.npz) as they arrive,
    remembering only where each line is and where it sorts (four integers a line), so that
    results.json and the report are assembled a case at a time, without holding the records."""

    def __init__(self, out: Path, save_arrays: bool = False) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self._jsonl = open(out / "results.jsonl", "wb")  # noqa: SIM115
        self._at = 0
        self._counts: dict[str, int] = {}
        # per kind: (case order, label number, offset, size) of each line, as flat integers
        self._index: dict[str, array[int]] = {"case": array("q"), "result": array("q")}
        self._labels: dict[tuple[Any, ...], int] = {}  # (framework, device): its number
        self._flushed = time.monotonic()
        self._npz = zipfile.ZipFile(out / "arrays.npz", "w", zipfile.ZIP_DEFLATED) if save_arrays else None

    def write(self, kind: str, record: dict[str, Any], key: tuple[Any, ...] = (0,)) -> None:
        """One record; `key` orders it in results.json ((case order,) for a case, (case order,
        framework, device) for a result)."""
        line = b'{"kind":"' + kind.encode() + b'",' + _encode(record)[1:] + b"\n"
        self._jsonl.write(line)
        label = self._labels.setdefault(key[1:], len(self._labels))
        self._index[kind].extend((key[0], label, self._at, len(line)))
        if kind == "result":
            self._counts[record["verdict"]] = self._counts.get(record["verdict"], 0) + 1
        self._at += len(line)
        now = time.monotonic()
        if now - self._flushed > FLUSH_SECONDS:  # results on disk within a second, without a syscall per line
            self._jsonl.flush()
            self._flushed = now

    def array(self, key: str, value: np.ndarray) -> None:
        if self._npz is None:
            return
        with self._npz.open(key + ".npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)

    def close(self, meta: dict[str, Any]) -> Stored:
        """Write results.json (atomically) from the streamed lines, without parsing them."""
        self._jsonl.close()
        if self._npz is not None:
            self._npz.close()
        rank = np.empty(max(1, len(self._labels)), dtype=np.int64)
        rank[[self._labels[k] for k in sorted(self._labels)]] = np.arange(len(self._labels))
        lines = {}
        for kind, flat in self._index.items():
            rows = np.frombuffer(flat, dtype=np.int64).reshape(-1, 4) if flat else np.zeros((0, 4), np.int64)
            lines[kind] = rows[np.lexsort((rank[rows[:, 1]], rows[:, 0]))][:, [0, 2, 3]]
        stored = Stored(self.out / "results.jsonl", lines["case"], lines["result"],
                        {**meta, "counts": dict(sorted(self._counts.items()))})
        stored.write_json(self.out / "results.json")
        return stored


class Stored:
    """A finished run's records, read back from results.jsonl in report order. `cases` and
    `results` hold a row (case order, offset, size) per line, sorted."""

    def __init__(self, jsonl: Path, cases: np.ndarray, results: np.ndarray, meta: dict[str, Any]) -> None:
        self.jsonl, self._cases, self._results, self.meta = jsonl, cases, results, meta
        self.case_count = len(cases)

    def _raw(self, index: np.ndarray) -> Iterator[tuple[int, bytes]]:
        with open(self.jsonl, "rb") as fh:
            for order, at, size in index.tolist():
                fh.seek(at)
                yield order, fh.read(size)

    def _parsed(self, index: np.ndarray) -> Iterator[tuple[int, dict[str, Any]]]:
        for order, line in self._raw(index):
            rec = orjson.loads(line)
            rec.pop("kind")
            yield order, rec

    def items(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """(case, its results) in suite order. Results of a case that never finished (an
        interrupted run) are in results.json but not here."""
        results = self._parsed(self._results)
        pending = next(results, None)
        for order, case in self._parsed(self._cases):
            mine = []
            while pending is not None and pending[0] <= order:
                if pending[0] == order:
                    mine.append(pending[1])
                pending = next(results, None)
            yield case, mine

    def write_json(self, path: Path) -> None:
        """results.json with the record lines copied as they are ('{"kind": "case", ...}' -> '{...}')."""
        def records(index: np.ndarray) -> Iterator[bytes]:
            return (b"{" + line[line.index(b",") + 1 :].strip() for _, line in self._raw(index))

        _write_layout(path, {"schema_version": SCHEMA_VERSION, "meta": self.meta},
                      {"cases": records(self._cases), "results": records(self._results)})


def count_verdicts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return dict(sorted(counts.items()))


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """results.json from a document held in memory."""
    head = {k: v for k, v in doc.items() if not isinstance(v, list)}
    lists = {k: (_encode(v) for v in items) for k, items in doc.items() if isinstance(items, list)}
    _write_layout(path, head, lists)


def _write_layout(path: Path, head: dict[str, Any], lists: Mapping[str, Iterable[bytes]]) -> None:
    """Atomically: the head members indented, then each list with one record per line
    (readable, greppable, and written by json's C encoder: an indented dump of every record
    runs the pure-Python one, ten times slower)."""
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "wb") as fh:
        members = [f"{json.dumps(k)}: {json.dumps(v, indent=1, allow_nan=False)}".encode() for k, v in head.items()]
        fh.write(b"{\n" + b",\n".join(members))
        for i, (name, records) in enumerate(lists.items()):
            fh.write((b",\n" if members or i else b"\n") + json.dumps(name).encode() + b": [")
            first = True
            for rec in records:
                fh.write((b"\n " if first else b",\n ") + rec)
                first = False
            fh.write(b"]" if first else b"\n]")
        fh.write(b"\n}\n")
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
    problem = _incomplete(doc)
    if problem:
        raise HarnessError(f"{path}: not a complete pool-parity results.json: {problem}")
    return doc


# What the reporters read of each record (docs/results.md); a file missing any is refused whole.
CASE_FIELDS = ("id", "order", "op", "description", "tags", "source", "input", "params", "grad", "yaml", "ref_shape",
               "agreement")
RESULT_FIELDS = ("case_id", "framework", "device", "device_name", "mode", "call", "conversions", "plan_reason",
                 "verdict", "raw_verdict", "reason", "error", "seconds", "expectation")


def _incomplete(doc: dict[str, Any]) -> str | None:
    """The first thing a reporter would miss, as 'where: what', or None."""
    if not isinstance(doc.get("meta"), dict) or not isinstance(doc["meta"].get("frameworks"), dict):
        return "meta.frameworks: missing or not a mapping"
    for name, fields in (("cases", CASE_FIELDS), ("results", RESULT_FIELDS)):
        records = doc.get(name)
        if not isinstance(records, list):
            return f"{name}: missing or not a list"
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                return f"{name}[{i}]: not a mapping"
            missing = [f for f in fields if f not in rec]
            if missing:
                return f"{name}[{i}]: no {', '.join(repr(f) for f in missing)}"
            if name == "cases" and not (isinstance(rec["input"], dict) and {"shape", "dtype", "layout"} <= set(rec["input"])):
                return f"cases[{i}].input: needs shape, dtype and layout"
    return None


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
