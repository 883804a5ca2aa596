"""Stage 1: read case files safely, keep line numbers, expand `matrix:` grids.

Hands raw mappings (with their source lines) to normalise.py, which builds Case objects.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import CaseError, CaseErrors


class Node(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its own line and the line of each key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


# libyaml's parser when PyYAML has it (several times faster and leaner on large suites); both
# are safe loaders: no object construction.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc]
    """A safe loader whose mappings are Nodes; duplicate keys fail."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Node:
    loader.flatten_mapping(node)
    out = Node()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            raise _DuplicateKey(str(key), line)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = line
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class RawCase:
    """One case as written (after matrix expansion), with where it came from."""

    path: str
    node: Node
    id_line: int
    yaml_text: str
    matrix_values: tuple[tuple[str, Any], ...] = ()


MATRIX_EXTRA_KEYS = ("op", "dtype", "shape")


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' when a close match exists."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_file(path: Path) -> list[RawCase]:
    """Parse one file into RawCases; structural problems raise CaseErrors."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseErrors([CaseError(name, None, None, None, f"cannot read: {exc.strerror}")]) from None
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _DuplicateKey as exc:
        raise CaseErrors([CaseError(name, exc.line, None, exc.key, "duplicate key")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseErrors([CaseError(name, line, None, None, f"invalid YAML: {problem}")]) from None
    if not isinstance(doc, Node) or "cases" not in doc:
        raise CaseErrors([CaseError(name, 1, None, "cases", "file must be a mapping with a 'cases:' list")])
    errors = [
        CaseError(name, doc.line_of(k), None, str(k), f"unknown top-level key{suggest(str(k), ['cases', 'defaults'])}")
        for k in doc
        if k not in ("cases", "defaults")
    ]
    cases = doc["cases"]
    if not isinstance(cases, list):
        errors.append(CaseError(name, doc.line_of("cases"), None, "cases", "must be a list of cases"))
        raise CaseErrors(errors)
    defaults = doc.get("defaults") or Node()
    if not isinstance(defaults, Node):
        errors.append(CaseError(name, doc.line_of("defaults"), None, "defaults", "must be a mapping"))
        defaults = Node()
    lines = text.splitlines()
    starts = [c.line if isinstance(c, Node) else 0 for c in cases] + [len(lines) + 1]
    raw: list[RawCase] = []
    for i, item in enumerate(cases):
        if not isinstance(item, Node):
            errors.append(CaseError(name, doc.line_of("cases"), None, f"cases[{i}]", "each case must be a mapping"))
            continue
        snippet = "\n".join(lines[starts[i] - 1 : starts[i + 1] - 1]).rstrip()
        merged = _merge(defaults, item)
        try:
            raw.extend(_expand(name, merged, snippet))
        except CaseError as exc:
            errors.append(exc)
    if errors:
        raise CaseErrors(errors)
    return raw


def _merge(defaults: Node, item: Node) -> Node:
    """File-level defaults under a case; `input` and `params` merge one level deep."""
    out = Node({**defaults, **item})
    out.line, out.key_lines = item.line, {**defaults.key_lines, **item.key_lines}
    for key in ("input", "params"):
        if isinstance(defaults.get(key), Node) and isinstance(item.get(key), Node):
            sub = Node({**defaults[key], **item[key]})
            sub.line, sub.key_lines = item[key].line, {**defaults[key].key_lines, **item[key].key_lines}
            out[key] = sub
    return out


def _expand(path: str, node: Node, snippet: str) -> list[RawCase]:
    matrix = node.get("matrix")
    if matrix is None:
        return [RawCase(path, node, node.line_of("id"), snippet)]
    case_id = node.get("id") if isinstance(node.get("id"), str) else None
    if not isinstance(matrix, Node) or not matrix:
        raise CaseError(path, node.line_of("matrix"), case_id, "matrix", "must be a non-empty mapping of name: [values]")
    for key, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise CaseError(path, matrix.line_of(key), case_id, f"matrix.{key}", "must be a non-empty list of values")
    out = []
    for combo in itertools.product(*matrix.values()):
        values = tuple(zip(matrix.keys(), combo))
        expanded = Node({k: v for k, v in node.items() if k != "matrix"})
        expanded.line, expanded.key_lines = node.line, dict(node.key_lines)
        params = Node(node.get("params") if node.get("params") is not None else {})
        params.line = node["params"].line if isinstance(node.get("params"), Node) else node.line
        params.key_lines = dict(getattr(node.get("params"), "key_lines", {}))
        inp = Node(node.get("input") if node.get("input") is not None else {})
        inp.line = node["input"].line if isinstance(node.get("input"), Node) else node.line
        inp.key_lines = dict(getattr(node.get("input"), "key_lines", {}))
        for key, value in values:
            if key == "op":
                expanded["op"] = value
                expanded.key_lines["op"] = matrix.line_of(key)
            elif key in ("dtype", "shape"):
                inp[key] = value
                inp.key_lines[key] = matrix.line_of(key)
            else:
                params[key] = value
                params.key_lines[key] = matrix.line_of(key)
        expanded["params"], expanded["input"] = params, inp
        if case_id is not None:
            expanded["id"] = "-".join([case_id, *(_id_part(k, v) for k, v in values)])
        out.append(RawCase(path, expanded, node.line_of("id"), snippet, values))
    return out


_ABBREV = {
    "kernel_size": "k",
    "stride": "s",
    "padding": "p",
    "dilation": "d",
    "divisor_override": "div",
    "norm_type": "norm",
    "output_size": "out",
    "shape": "",
    "dtype": "",
    "op": "",
}


def _id_part(key: str, value: Any) -> str:
    """Readable id fragment: kernel_size=3 -> k3, ceil_mode -> ceil/floor, cip -> cip0/cip1."""
    if key == "ceil_mode":
        return "ceil" if value else "floor"
    if key == "count_include_pad":
        return f"cip{int(bool(value))}"
    if key == "return_indices":
        return "idx" if value else "noidx"
    if key == "keepdims":
        return "keep" if value else "nokeep"
    return _ABBREV.get(key, key) + _render(value)


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, list):
        return "x".join(_render(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
