"""Known divergences: the `expect:` entries of a case, and how a verdict meets them.

    expect:
      keras: {verdict: numeric_mismatch, reason: "...", link: "https://..."}        # strict
      keras: {verdict: [error, pass], reason: "...", condition: "oneDNN on: error"}  # machine-dependent
      keras-torch: {verdict: numeric_mismatch, reason: "...", when: {op: avg_pool}}  # some of a matrix

One verdict is strict: a result that stops diverging is `unexpected_pass`. A list of verdicts
declares behaviour that depends on the machine (CPU features, oneDNN, OS): each is accepted, and
the result says which one happened. `when:` (a mapping, or a list of mappings: any of them) limits
an entry to the cases of the case's `matrix:` expanded with those values.
"""

from __future__ import annotations

from typing import Any

from harness.adapters import DEVICES, registry
from harness.checks import _Checker, _names, _show
from harness.load import Node, suggest
from harness.spec import Expectation

VERDICTS = ("pass", "shape_mismatch", "numeric_mismatch", "unsupported", "error", "tie_break", "dtype_mismatch")
KEYS = ("verdict", "reason", "link", "devices", "condition", "when")


def parse(check: _Checker, node: Node, matrix: dict[str, Any]) -> dict[str, Expectation]:
    """The case's expectations per framework; `matrix` holds the values this case was expanded
    with (empty for a case without `matrix:`)."""
    exp = check.mapping(node, "expect", "expect")
    if exp is None:
        return {}
    out = {}
    names = tuple(registry())
    for fw, body in exp.items():
        field = f"expect.{fw}"
        if fw not in names:
            check.fail(exp, fw, field, f"unknown framework{suggest(str(fw), names)}")
            continue
        if not isinstance(body, Node):
            check.fail(exp, fw, field, "must be a mapping with verdict and reason")
            continue
        check.unknown_keys(body, KEYS, f"{field}.")
        verdicts = _verdicts(check, body, field)
        if verdicts is None:
            continue
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            check.fail(body, "reason", f"{field}.reason", "a known divergence needs a one-line reason")
            continue
        link, condition = body.get("link"), body.get("condition")
        for key, value in (("link", link), ("condition", condition)):
            if value is not None and not isinstance(value, str):
                check.fail(body, key, f"{field}.{key}", f"must be a string, got {_show(value)}")
        if condition is not None and len(verdicts) == 1:
            check.fail(body, "condition", f"{field}.condition",
                       "a condition says what a machine-dependent outcome depends on: list the verdicts it "
                       "chooses between, e.g. verdict: [error, pass]")
        devices = _names(check, body, "devices", DEVICES)
        if _applies(check, body, field, matrix):
            out[str(fw)] = Expectation(verdicts, reason.strip(), link, devices, condition)
    return out


def _verdicts(check: _Checker, body: Node, field: str) -> tuple[str, ...] | None:
    """One divergent verdict, or a list of two or more outcomes (pass allowed) for behaviour that
    depends on the machine."""
    value = body.get("verdict")
    divergent = [v for v in VERDICTS if v != "pass"]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # a list of one is the plain, strict form
    elif isinstance(value, list):
        if len(set(map(str, value))) != len(value) or any(v not in VERDICTS for v in value):
            check.fail(body, "verdict", f"{field}.verdict",
                       f"a list of machine-dependent outcomes needs different verdicts from {', '.join(VERDICTS)}, "
                       f"got {_show(value)}")
            return None
        return tuple(str(v) for v in value)
    if value not in divergent:
        check.fail(body, "verdict", f"{field}.verdict",
                   f"must be one of {', '.join(divergent)} (or a list of outcomes for machine-dependent "
                   f"behaviour, e.g. [error, pass]), got {_show(value)}")
        return None
    return (str(value),)


def _applies(check: _Checker, body: Node, field: str, matrix: dict[str, Any]) -> bool:
    """Whether the entry's `when:` (absent: always) selects this expanded case. Every key must be
    one of the case's matrix keys and every value one of its values, so that no entry can select
    nothing by a typo."""
    when = body.get("when")
    if when is None:
        return True
    clauses = when if isinstance(when, list) else [when]
    if not clauses or not all(isinstance(c, Node) and c for c in clauses):
        check.fail(body, "when", f"{field}.when", f"must be a mapping of matrix values (or a list of them), "
                                                   f"got {_show(when)}")
        return False
    if not matrix:
        check.fail(body, "when", f"{field}.when", "selects cases of a matrix, and this case has no matrix:")
        return False
    grid: dict[str, Any] = check.raw.grid or {}
    ok = True
    for clause in clauses:
        for key, value in clause.items():
            if key not in grid:
                check.fail(clause, str(key), f"{field}.when.{key}",
                           f"not a matrix key of this case (matrix keys: {', '.join(grid)}){suggest(str(key), list(grid))}")
                ok = False
            elif value not in grid[key]:
                check.fail(clause, str(key), f"{field}.when.{key}",
                           f"{_show(value)} is not one of the matrix values {_show(grid[key])}")
                ok = False
    return ok and any(all(matrix.get(k) == v for k, v in clause.items()) for clause in clauses)


def apply(verdict: str, expectation: Expectation | None, device: str) -> tuple[str, str]:
    """(final verdict, note). A declared verdict is known_divergence; a pass where only
    divergences were declared is unexpected_pass. A machine-dependent expectation accepts each of
    its verdicts, pass included, and its note says which outcome happened here."""
    if expectation is None or (expectation.devices and device not in expectation.devices):
        return verdict, ""
    if expectation.machine_dependent:
        depends = f"machine-dependent ({expectation.condition})" if expectation.condition else "machine-dependent"
        if verdict in expectation.verdicts:
            here = f"{depends}: {verdict} on this machine, declared {expectation.verdict}: {expectation.reason}"
            return ("pass" if verdict == "pass" else "known_divergence"), here
    elif verdict == expectation.verdict:
        return "known_divergence", expectation.reason
    if verdict == "pass":
        return "unexpected_pass", f"expected {expectation.verdict} ({expectation.reason}) but it passed"
    return verdict, f"expected {expectation.verdict}, got {verdict}"
