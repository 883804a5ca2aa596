"""Hostile or mistaken case files: each is refused by `pool-parity validate` in one line naming
the file (and line), exit 2, within seconds and in bounded memory; never a traceback or a hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cases import load_cases
from harness.errors import CaseErrors
from harness.load import Limits
from tests.helpers import ROOT

CASE = "  - id: {id}\n    op: max_pool\n    input: {{shape: [1, 1, 4], {inp}}}\n    params: {{kernel_size: 2}}\n"
RANDN = "generator: {kind: randn}"


def alias_bomb() -> str:
    """Ten levels of ten aliases each: 10**10 values if anything walked it."""
    text = "cases:\n" + CASE.format(id="a0", inp=RANDN) + "    tags: &t0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 11):
        text += CASE.format(id=f"a{i}", inp=RANDN) + f"    tags: &t{i} [" + ", ".join([f"*t{i - 1}"] * 10) + "]\n"
    return text


HOSTILE = {
    "alias-bomb": (alias_bomb(), ":26: aliases expand to more than 100,000 values"),
    "recursive-alias": ("cases:\n" + CASE.format(id="a", inp=RANDN) + "    tags: &t [x, *t]\n",
                        ":6: alias *t refers to a value that contains it"),
    "deep-nesting": ("cases:\n" + CASE.format(id="a", inp=RANDN) + "    description: " + "[" * 5000 + "]" * 5000 + "\n",
                     ":6: nested deeper than 64 levels"),
    "huge-matrix": ("cases:\n" + CASE.format(id="m", inp=RANDN) + "    matrix:\n"
                    + "".join(f"      {k}: [{', '.join(map(str, range(1, 101)))}]\n" for k in ("kernel_size", "stride", "dilation", "padding")),
                    ":6: case 'm': matrix: expands to 100,000,000 cases, more than the limit of 10,000"),
    "path-id": ("cases:\n" + CASE.format(id="../../outside/evil", inp=RANDN),
                ":2: case '../../outside/evil': id: must be letters, digits and - _ . + = only"),
    "bidi-id": ('cases:\n' + CASE.format(id='"abc\\u202egnp.exe"', inp=RANDN),
                ":2: case 'abc\\u202egnp.exe': id: must be letters, digits and - _ . + = only (a safe file name "
                "and test id), has U+202E"),
    "control-id": ('cases:\n' + CASE.format(id='"bell\\x07"', inp=RANDN), "has U+0007"),
    "dot-id": ("cases:\n" + CASE.format(id=".hidden", inp=RANDN), "must not contain '..' or start with '.' or '-'"),
    "float16-overflow": ("cases:\n" + CASE.format(id="big", inp="dtype: float16, values: [[[1e10, 1, 2, 3]]]"),
                         ":4: case 'big': input.values: 1e+10 does not fit float16 (largest finite 65504): it would become inf"),
    "int32-generator": ("cases:\n" + CASE.format(id="big", inp="dtype: int32, generator: {kind: constant, value: 3e9}"),
                        "input.generator: draws 3e+09, which does not fit int32 (range -2147483648 to 2147483647)"),
    "inject-overflow": ("cases:\n" + CASE.format(id="big", inp="dtype: float16, generator: {kind: randn}, "
                                                               "inject: [{value: 70000, at: [[0, 0, 1]]}]"),
                        "input.inject[0].value: 70000 does not fit float16"),
}


# The child sets its own limits (2 GiB of address space, 20 s of CPU) before loading anything: a
# preexec_fn would fork this process, which may hold JAX's threads.
BOUNDED = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
           "resource.setrlimit(resource.RLIMIT_CPU, (20, 20)); from harness.cli import main; sys.exit(main())")


def validate(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BOUNDED, "validate", str(path), *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_is_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    text, expected = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    proc = validate(path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(str(path)) and expected in lines[0], proc.stderr
    # the bomb's earlier cases hold (smaller) nested tags, which are problems of their own
    assert lines[-1] == f"{len(lines) - 1} problem(s) found" and (len(lines) == 2 or name == "alias-bomb")


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("cases:\n  - id: caf\xe9\n".encode("latin-1"))
    proc = validate(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == f"{path}:2: not UTF-8 text: byte 0xe9 at offset 18 (save the file as UTF-8)"


def test_suite_limit_stops_the_load_and_can_be_raised(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.yaml").write_text("cases:\n" + CASE.format(id=f"m{i}", inp=RANDN)
                                             + "    matrix: {stride: [1, 2]}\n")
    with pytest.raises(CaseErrors) as exc:
        load_cases([str(tmp_path)], limits=Limits(cases=5))
    (only,) = exc.value.errors
    assert str(only).startswith(str(tmp_path / "f2.yaml")) and "the suite expands to more than 5 cases" in str(only)
    assert len(load_cases([str(tmp_path)], limits=Limits(cases=6))) == 6
    proc = validate(tmp_path, "--max-cases", "5")
    assert proc.returncode == 2 and "--max-cases raises the limit" in proc.stderr
    assert validate(tmp_path, "--max-cases", "6").returncode == 0


def test_matrix_limit_can_be_raised(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("cases:\n" + CASE.format(id="m", inp=RANDN) + "    matrix: {stride: [1, 2, 3]}\n")
    with pytest.raises(CaseErrors, match="expands to 3 cases, more than the limit of 2"):
        load_cases([str(path)], limits=Limits(matrix=2))
    assert len(load_cases([str(path)], limits=Limits(matrix=3))) == 3


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("cases:\n" + CASE.format(id="a", inp=RANDN))
    with pytest.raises(CaseErrors, match=r"big.yaml: \d+ bytes, more than a case file may hold \(16\)"):
        load_cases([str(path)], limits=Limits(file_bytes=16))


def test_ordinary_anchors_and_dotless_exponents_still_load(tmp_path: Path) -> None:
    """The library's own use of anchors stays far below the alias limit, and 1e3 is a number."""
    assert len(load_cases(["cases"])) > 300
    path = tmp_path / "e.yaml"
    path.write_text("cases:\n" + CASE.format(id="e", inp="generator: {kind: uniform, low: -1e3, high: 2E+3}"))
    (case,) = load_cases([str(path)])
    assert case.input.gen == {"kind": "uniform", "low": -1000.0, "high": 2000.0}
