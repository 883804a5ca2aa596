"""Scripts that are their adapter's implementation: conversion blocks, their removal, one setup run
per signature, a failed setup not retried."""

from __future__ import annotations

import pytest

from harness.adapters import script
from harness.plan import Note

SETUP = """
import numpy as np


def run(x_np):
    y = x_np * 2
    # conversion 1: add one
    y = y + 1

    # conversion 2: negate
    y = -y

    return y, None
"""


def test_blocks_and_their_removal() -> None:
    assert script.marker(1, Note("add one")) == "# conversion 1: add one"
    assert set(script.blocks(SETUP)) == {1, 2}
    scope: dict = {}
    exec(script.without(SETUP, 1), scope)  # noqa: S102
    assert scope["run"](3)[0] == -6  # without "+ 1"
    exec(script.without(SETUP, 2), scope)  # noqa: S102
    assert scope["run"](3)[0] == 7  # without the negation


def test_a_setup_runs_once_and_a_failure_is_kept() -> None:
    first = script.runner(SETUP)
    assert script.runner(SETUP) is first and first(1)[0] == -3
    bad = SETUP + "\nraise RuntimeError('export failed here')\n"
    with pytest.raises(RuntimeError, match="export failed here") as one:
        script.runner(bad)
    with pytest.raises(RuntimeError) as two:
        script.runner(bad)
    assert two.value is one.value


def test_the_repro_is_the_setup_and_the_call() -> None:
    text = script.Script(SETUP).text
    assert text.startswith(SETUP.rstrip()) and text.endswith("out, indices = run(x_np)\nprint(out)\n")
