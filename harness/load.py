"""Stage 1: read case files safely, keep line numbers, expand `matrix:` grids.

Hands raw mappings (with their source lines) to normalise.py, which builds Case objects.
"""

from __future__ import annotations

import datetime
import difflib
import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

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


@dataclass(frozen=True)
class Limits:
    """What one suite may ask of the loader (docs: README "Case files"). Hostile or mistaken files
    (an alias bomb, thousands of nested brackets, a grid of 10**8 combinations) are refused in one
    line, within a second and in bounded memory, instead of hanging or exhausting the machine.
    `cases` and `matrix` are what a real suite may need more of: `--max-cases` / `--max-matrix`."""

    cases: int = 100_000  # cases in the whole suite, after matrix expansion
    matrix: int = 10_000  # cases one `matrix:` entry expands to
    aliases: int = 100_000  # values that aliases (*name, <<: *name) expand to, per file
    depth: int = 64  # nesting of mappings and lists
    file_bytes: int = 64 << 20  # size of one case file


@dataclass
class Budget:
    """The limits of one load and the cases counted against `Limits.cases` so far (a suite's
    files share one budget)."""

    limits: Limits = Limits()
    cases: int = 0


class SuiteTooLarge(CaseErrors):
    """The suite passed `Limits.cases`: loading stops at once (every later case would say so too)."""


class _TooMuch(Exception):
    """A limit was passed while parsing; the message says which and where."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


if hasattr(yaml, "CSafeLoader"):  # libyaml parses; values are built from its events (_value)
    from yaml._yaml import CParser

    class _Loader(CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """Parser events, the safe loader's scalar constructors and its tag resolver."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.plain_scalars: dict[str, Any] = {}
            self.limits, self.values, self.aliased = Limits(), 0, 0
            self.sizes: dict[str, int] = {}  # anchor: values its mapping or list holds, nested ones included
else:  # pragma: no cover - PyYAML without libyaml

    class _Loader(yaml.SafeLoader):  # type: ignore[no-redef]
        """Parser events, the safe loader's scalar constructors and its tag resolver."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.plain_scalars: dict[str, Any] = {}
            self.limits, self.values, self.aliased = Limits(), 0, 0
            self.sizes: dict[str, int] = {}


# YAML 1.2's floats without a dot: `1e10` is a number (YAML 1.1, and so PyYAML, reads it as the
# string '1e10'; a case author writing it means the number).
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))

_STR = "tag:yaml.org,2002:str"
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_NONSPECIFIC = (None, "!")


def _value(loader: _Loader, anchors: dict[str, Any], depth: int = 0) -> Any:
    """The value at the loader's next event, built straight from the events (no node tree):
    mappings as Nodes with their lines, lists, scalars as the safe loader makes them. Anchors
    and aliases work across the file, merge keys (<<) give way to the mapping's own keys, a
    duplicate key fails, and an explicit tag the safe loader does not know fails. Nesting past
    `Limits.depth`, and aliases that would expand past `Limits.aliases` values, fail: an alias is
    one shared object here, but whatever walks the value later (a check, a matrix, a message)
    would walk every copy."""
    event = loader.get_event()
    kind = type(event)
    loader.values += 1
    if depth > loader.limits.depth:
        raise _TooMuch(event.start_mark.line + 1, f"nested deeper than {loader.limits.depth} levels")
    if kind is yaml.ScalarEvent:
        value = _scalar(loader, event)
    elif kind is yaml.MappingStartEvent:
        _check_tag(loader, event, _MAP)
        value = Node()
        value.line = event.start_mark.line + 1
        start = loader.values
        if event.anchor is not None:
            anchors[event.anchor] = value
        merged: list[Node] = []
        while not loader.check_event(yaml.MappingEndEvent):
            key_event = loader.peek_event()
            line = key_event.start_mark.line + 1
            if (type(key_event) is yaml.ScalarEvent and key_event.value == "<<" and key_event.implicit[0]
                    and key_event.tag in _NONSPECIFIC):
                loader.get_event()
                merged.extend(_merge_sources(_value(loader, anchors, depth + 1), key_event))
                continue
            key = _value(loader, anchors, depth + 1)
            if isinstance(key, (list, dict)):
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value",
                                                        key_event.start_mark)
            if key in value:
                raise _DuplicateKey(str(key), line)
            value[key] = _value(loader, anchors, depth + 1)
            value.key_lines[str(key)] = line
        loader.get_event()
        for source in merged:  # earlier sources win over later ones, own keys over all
            for k, v in source.items():
                if k not in value:
                    value[k] = v
                    value.key_lines[str(k)] = source.line_of(str(k))
        if event.anchor is not None:
            loader.sizes[event.anchor] = loader.values - start + 1
        return value
    elif kind is yaml.SequenceStartEvent:
        _check_tag(loader, event, _SEQ)
        value = []
        start = loader.values
        if event.anchor is not None:
            anchors[event.anchor] = value
        while not loader.check_event(yaml.SequenceEndEvent):
            value.append(_value(loader, anchors, depth + 1))
        loader.get_event()
        if event.anchor is not None:
            loader.sizes[event.anchor] = loader.values - start + 1
        return value
    elif kind is yaml.AliasEvent:
        if event.anchor not in anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        size = loader.sizes.get(event.anchor)
        if size is None:  # its anchor is still open: the value would contain itself
            raise _TooMuch(event.start_mark.line + 1, f"alias *{event.anchor} refers to a value that contains it")
        loader.values += size - 1  # the alias counts as every value it repeats
        loader.aliased += size
        if loader.aliased > loader.limits.aliases:
            raise _TooMuch(event.start_mark.line + 1,
                           f"aliases expand to more than {loader.limits.aliases:,} values (an alias bomb?)")
        return anchors[event.anchor]
    else:  # pragma: no cover - the parser gives nothing else inside a document
        raise yaml.composer.ComposerError(None, None, f"unexpected {kind.__name__}", event.start_mark)
    if event.anchor is not None:
        anchors[event.anchor] = value
        loader.sizes[event.anchor] = 1
    return value


def _scalar(loader: _Loader, event: Any) -> Any:
    tag = event.tag
    plain = tag is None and event.implicit[0]
    if plain:  # the same words and numbers recur all through a suite: resolve and build each once
        known = loader.plain_scalars.get(event.value, _UNSEEN)
        if known is not _UNSEEN:
            return known
    if tag in _NONSPECIFIC:
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == _STR:
        value = event.value
    else:
        value = _construct(loader, tag, event)
    if plain and isinstance(value, _IMMUTABLE):
        loader.plain_scalars[event.value] = value
    return value


_UNSEEN = object()
_IMMUTABLE = (str, int, float, type(None), datetime.date)


def _construct(loader: _Loader, tag: str, event: Any) -> Any:
    construct = loader.yaml_constructors.get(tag)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    if construct is None:
        return loader.construct_undefined(node)  # raises: the tag is not one the safe loader builds
    return construct(loader, node)


def _check_tag(loader: _Loader, event: Any, default: str) -> None:
    if event.tag not in _NONSPECIFIC and event.tag != default:
        node_type = yaml.MappingNode if default == _MAP else yaml.SequenceNode
        loader.construct_undefined(node_type(event.tag, [], event.start_mark, event.end_mark))


def _merge_sources(value: Any, key_event: Any) -> list[Node]:
    sources = value if isinstance(value, list) else [value]
    if not all(isinstance(v, Node) for v in sources):
        raise yaml.constructor.ConstructorError(
            "while constructing a mapping", None, "a merge key (<<) takes a mapping or a list of mappings",
            key_event.start_mark)
    return sources


@dataclass(frozen=True)
class RawCase:
    """One case as written (after matrix expansion), with where it came from."""

    path: str
    node: Node
    id_line: int
    yaml_text: str
    matrix_values: tuple[tuple[str, Any], ...] = ()  # the values this case was expanded with
    grid: Node | None = None  # the whole `matrix:` it came from (key: [values])


MATRIX_EXTRA_KEYS = ("op", "dtype", "shape")


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' when a close match exists."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_file(path: Path, budget: Budget | None = None) -> Iterator[RawCase]:
    """Parse one file into RawCases, a case at a time (memory stays flat however long the file);
    structural problems are raised together as CaseErrors once the file has been read. Every
    limit of `budget` (default: Limits()) is checked before the work it bounds is done."""
    name = str(path)
    budget = budget or Budget()
    text = _text(path, budget.limits)
    errors: list[CaseError] = []
    try:
        yield from _read(name, text, errors, budget)
    except _TooMuch as exc:
        errors.append(CaseError(name, exc.line, None, None, exc.message))
    except _DuplicateKey as exc:
        errors.append(CaseError(name, exc.line, None, exc.key, "duplicate key"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        errors.append(CaseError(name, line, None, None, f"invalid YAML: {problem}"))
    if errors:
        raise CaseErrors(errors)


def _text(path: Path, limits: Limits) -> str:
    """The file as text: UTF-8 (a BOM allowed), at most `limits.file_bytes`."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise CaseErrors([CaseError(name, None, None, None, f"{size:,} bytes, more than a case file may hold "
                                                                f"({limits.file_bytes:,})")])
        data = path.read_bytes()
    except OSError as exc:
        raise CaseErrors([CaseError(name, None, None, None, f"cannot read: {exc.strerror}")]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CaseErrors([CaseError(name, line, None, None, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                                                            f"{exc.start} (save the file as UTF-8)")]) from None


_DEFAULTS_LATER = re.compile(r"^defaults\s*:", re.MULTILINE)
_NOT_A_FILE = "file must be a mapping with a 'cases:' list"


def _read(name: str, text: str, errors: list[CaseError], budget: Budget) -> Iterator[RawCase]:
    """Walk the top-level mapping by events; compose and yield the items of `cases:` one by one."""
    loader = _Loader(text)
    loader.limits = budget.limits
    loader.get_event()  # stream start
    if loader.check_event(yaml.DocumentStartEvent):
        loader.get_event()
    if not loader.check_event(yaml.MappingStartEvent):
        errors.append(CaseError(name, 1, None, "cases", _NOT_A_FILE))
        return
    loader.get_event()
    lines = text.splitlines()
    anchors: dict[str, Any] = {}
    defaults, seen_cases = Node(), False
    held: list[tuple[int, list[tuple[int, Any, int]]]] = []  # case lists read before `defaults:`
    while not loader.check_event(yaml.MappingEndEvent):
        key_event = loader.peek_event()
        key, key_line = _value(loader, anchors), key_event.start_mark.line + 1
        if key == "cases" and loader.check_event(yaml.SequenceStartEvent):
            seen_cases = True
            hold = _DEFAULTS_LATER.search(text, key_event.end_mark.index) is not None
            items = _items(loader, anchors)
            if hold:
                held.append((key_line, list(items)))
            else:
                yield from _expand_items(name, key_line, defaults, items, lines, errors, budget)
            continue
        value = _value(loader, anchors)
        if key == "cases":
            seen_cases = True
            errors.append(CaseError(name, key_line, None, "cases", "must be a list of cases"))
        elif key == "defaults":
            if isinstance(value, Node):
                defaults = value
            elif value is not None:
                errors.append(CaseError(name, key_line, None, "defaults", "must be a mapping"))
        else:
            errors.append(CaseError(name, key_line, None, str(key),
                                    f"unknown top-level key{suggest(str(key), ['cases', 'defaults'])}"))
    for key_line, later in held:
        yield from _expand_items(name, key_line, defaults, iter(later), lines, errors, budget)
    loader.get_event()  # mapping end
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        errors.append(CaseError(name, loader.peek_event().start_mark.line + 1, None, None,
                                "invalid YAML: expected a single document"))
    if not seen_cases:  # then that is the one thing to say
        errors[:] = [CaseError(name, 1, None, "cases", _NOT_A_FILE)]


def _items(loader: Any, anchors: dict[str, Any]) -> Iterator[tuple[int, Any, int]]:
    """(index, constructed item, line where its text ends) for each item of the sequence the
    loader is at; an item's text runs to where the next one starts."""
    loader.get_event()  # sequence start
    prev: tuple[int, Any] | None = None
    i = 0
    while not loader.check_event(yaml.SequenceEndEvent):
        start = loader.peek_event().start_mark.line + 1
        if prev is not None:
            yield (*prev, start)
        prev = (i, _value(loader, anchors))
        i += 1
    end = loader.get_event().end_mark
    if prev is not None:  # the last one: to the end of the list (and its line, if the list ends mid-line)
        yield (*prev, end.line + 1 + (1 if end.column else 0))


def _expand_items(name: str, cases_line: int, defaults: Node, items: Iterable[tuple[int, Any, int]],
                  lines: list[str], errors: list[CaseError], budget: Budget) -> Iterator[RawCase]:
    for i, item, next_start in items:
        if not isinstance(item, Node):
            errors.append(CaseError(name, cases_line, None, f"cases[{i}]", "each case must be a mapping"))
            continue
        snippet = "\n".join(lines[item.line - 1 : next_start - 1]).rstrip()
        try:
            yield from _expand(name, _merge(defaults, item), snippet, budget)
        except CaseError as exc:
            errors.append(exc)


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


def _expand(path: str, node: Node, snippet: str, budget: Budget) -> list[RawCase]:
    matrix = node.get("matrix")
    if matrix is None:
        _count(budget, 1, path, node, None)
        return [RawCase(path, node, node.line_of("id"), snippet)]
    case_id = node.get("id") if isinstance(node.get("id"), str) else None
    if not isinstance(matrix, Node) or not matrix:
        raise CaseError(path, node.line_of("matrix"), case_id, "matrix", "must be a non-empty mapping of name: [values]")
    for key, values in matrix.items():
        if not isinstance(key, str):
            raise CaseError(path, matrix.line_of(str(key)), case_id, "matrix", f"keys must be parameter names, got {key!r}")
        if not isinstance(values, list) or not values:
            raise CaseError(path, matrix.line_of(key), case_id, f"matrix.{key}", "must be a non-empty list of values")
    for key in ("params", "input"):
        if node.get(key) is not None and not isinstance(node[key], Node):
            raise CaseError(path, node.line_of(key), case_id, key, f"must be a mapping, got {node[key]!r}")
    combinations = math.prod(len(v) for v in matrix.values())
    if combinations > budget.limits.matrix:
        raise CaseError(path, node.line_of("matrix"), case_id, "matrix",
                        f"expands to {combinations:,} cases, more than the limit of {budget.limits.matrix:,} "
                        "(--max-matrix raises it)")
    _count(budget, combinations, path, node, case_id)
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
        out.append(RawCase(path, expanded, node.line_of("id"), snippet, values, matrix))
    return out


def _count(budget: Budget, cases: int, path: str, node: Node, case_id: str | None) -> None:
    """Count cases against the suite's limit before making them."""
    budget.cases += cases
    if budget.cases > budget.limits.cases:
        raise SuiteTooLarge([CaseError(path, node.line, case_id, None,
                                       f"the suite expands to more than {budget.limits.cases:,} cases "
                                       "(--max-cases raises the limit)")])


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
