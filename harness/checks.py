"""What the normaliser's checks share: a per-case error collector and the small value tests
(normalise.py validates cases with them, expectations.py the `expect:` entries)."""

from __future__ import annotations

import math
import reprlib
from typing import Any

from harness.errors import CaseError
from harness.load import Node, RawCase, suggest

SPECIAL = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}


class _Bad(Exception):
    """Internal: abort normalising this case after recording an error."""


class _Checker:
    """Collects errors for one case, each located by the line of the offending key."""

    def __init__(self, raw: RawCase) -> None:
        self.raw, self.path = raw, raw.path
        cid = raw.node.get("id")
        self.case_id = cid if isinstance(cid, str) else None
        self.errors: list[CaseError] = []

    def fail(self, node: Node | None, key: str, field: str, message: str) -> None:
        line = node.line_of(key) if isinstance(node, Node) else self.raw.node.line
        self.errors.append(CaseError(self.path, line, self.case_id, field, message))

    def unknown_keys(self, node: Node, allowed: tuple[str, ...], prefix: str) -> None:
        for key in node:
            if key not in allowed:
                self.fail(node, str(key), f"{prefix}{key}", f"unknown key{suggest(str(key), allowed)}")

    def mapping(self, node: Node, key: str, field: str, required: bool = False) -> Node | None:
        value = node.get(key)
        if value is None:
            if required:
                self.fail(node, key, field, "is required")
            return None
        if not isinstance(value, Node):
            self.fail(node, key, field, f"must be a mapping, got {_show(value)}")
            return None
        return value


_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 3, 6, 4, 40, 40


def _show(value: Any) -> str:
    """A bad value, briefly: repr bounded in depth and length (a value may be huge or nested)."""
    text = _REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    if isinstance(value, str) and value.lower() in SPECIAL:
        return SPECIAL[value.lower()]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # One NaN: YAML's .nan is PyYAML's -inf/inf, x86's NaN with the sign bit set, and a sign
        # that differs between the case and its repro (np.nan) changes the bits frameworks return.
        return math.nan if math.isnan(value) else float(value)
    return None


def _bool(check: _Checker, node: Node, key: str, field: str, default: bool) -> bool:
    value = node.get(key, default)
    if not isinstance(value, bool):
        check.fail(node, key, field, f"must be true or false, got {_show(value)}")
        return default
    return value


def _names(check: _Checker, node: Node, key: str, allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    value = node.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.fail(node, key, key, f"must be a list of names, got {_show(value)}")
        return None
    if allowed is not None:
        for v in value:
            if v not in allowed:
                check.fail(node, key, key, f"unknown name '{v}', expected one of {', '.join(allowed)}{suggest(v, allowed)}")
    return tuple(value)
