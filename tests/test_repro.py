"""The repro input code rebuilds the exact case input, bit for bit, for every input form."""

from __future__ import annotations

import numpy as np
import pytest

from harness.inputs import make_input
from harness.repro import input_code
from tests.helpers import case_from

GENERATORS = [
    {"kind": "randn", "seed": 3, "mean": 1.5, "std": 2.0},
    {"kind": "uniform", "seed": 4, "low": -2.0, "high": 5.0},
    {"kind": "randint", "seed": 5, "low": -3, "high": 9},
    {"kind": "arange", "start": -1.0, "step": 0.25},
    {"kind": "constant", "value": 2.5},
]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32"])
@pytest.mark.parametrize("gen", GENERATORS, ids=[g["kind"] for g in GENERATORS])
@pytest.mark.parametrize("shape", [[1, 2, 3, 3], [2, 3, 10, 10]], ids=["literal", "generator"])
def test_input_code_rebuilds_the_input(tmp_path, shape, gen, dtype) -> None:
    case = case_from("max_pool", shape, {"kernel_size": 2}, tmp_path,
                     input={"shape": shape, "dtype": dtype, "generator": gen})
    code = input_code(case)
    assert ("np.array([" in code) == (shape == [1, 2, 3, 3])
    scope: dict = {}
    exec(code, scope)  # noqa: S102
    x = make_input(case.input)
    assert scope["x_np"].dtype == x.dtype
    np.testing.assert_array_equal(scope["x_np"], x)


def test_explicit_values_are_written_out(tmp_path) -> None:
    values = [[[1.5, -2.0, 3.25, 4.0, 0.5, -1.0]]] * 1
    case = case_from("max_pool", [1, 1, 6], {"kernel_size": 2}, tmp_path, input={"shape": [1, 1, 6], "values": values})
    scope: dict = {}
    exec(input_code(case), scope)  # noqa: S102
    np.testing.assert_array_equal(scope["x_np"], np.array(values, np.float32))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int64"])
def test_large_inputs_keep_their_injected_values(tmp_path, dtype) -> None:
    """Past the literal size the generator is written out, and so are the injected special values."""
    shape = [2, 3, 12, 12]
    special = [{"value": 7, "at": [[0, 1, 2, 3], [1, 2, 11, 0]]}, {"value": -5, "fraction": 0.05}]
    if dtype != "int64":
        special += [{"value": "nan", "fraction": 0.1}, {"value": "-inf", "at": [[1, 0, 0, 0]]}]
    case = case_from("max_pool", shape, {"kernel_size": 2}, tmp_path,
                     input={"shape": shape, "dtype": dtype, "generator": {"kind": "randn", "seed": 9, "std": 4},
                            "inject": special})
    code = input_code(case)
    assert "np.array([" not in code and "rng.choice" in code
    scope: dict = {}
    exec(code, scope)  # noqa: S102
    x = make_input(case.input)
    assert scope["x_np"].dtype == x.dtype and scope["x_np"].tobytes() == x.tobytes()


def test_large_explicit_values_and_infinite_constants(tmp_path) -> None:
    values = np.random.default_rng(0).standard_normal((1, 1, 30, 30)).round(3).tolist()
    written = case_from("max_pool", [1, 1, 30, 30], {"kernel_size": 2}, tmp_path,
                        input={"shape": [1, 1, 30, 30], "values": values})
    constant = case_from("max_pool", [1, 1, 30, 30], {"kernel_size": 2}, tmp_path,
                         input={"shape": [1, 1, 30, 30], "generator": {"kind": "constant", "value": "-inf"}})
    for case in (written, constant):
        scope: dict = {}
        exec(input_code(case), scope)  # noqa: S102
        assert scope["x_np"].tobytes() == make_input(case.input).tobytes()


def _run_script(path) -> str:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_repro_command_writes_a_standalone_script_with_the_reference(tmp_path) -> None:
    from harness.cli import main

    path = tmp_path / "d3.py"
    assert main(["repro", "seed-D3-avg-ceil-cip", "--framework", "torch", "-o", str(path)]) == 0
    text = path.read_text()
    assert "import harness" not in text and "..." not in text
    assert "expected = np.array([[[[1.1111111111111112" in text  # seed D3's corner divisor is 4, not 9
    assert "0 of 9 output elements differ from the reference" in _run_script(path)


def test_repro_command_shows_a_known_divergence(tmp_path) -> None:
    """PyTorch's lp pooling over-weights partial ceil-mode windows (a declared divergence)."""
    from harness.cli import main

    path = tmp_path / "lp.py"
    assert main(["repro", "lp-ceil", "--framework", "torch", "-o", str(path)]) == 0
    out = _run_script(path)
    assert "output elements differ from the reference" in out and not out.startswith("0 of")
    assert "0 of" not in out.splitlines()[-2]


@pytest.mark.parametrize("args,message", [
    (["repro", "no-such-case"], "no case with id 'no-such-case'"),
    (["repro", "seed-A1-max-k3-ceil", "cases/seeds.yaml", "--framework", "keras", "--max-cases", "1"],
     "the suite expands to more than 1 cases"),
])
def test_repro_command_bad_input_is_one_line(capsys, args, message) -> None:
    from harness.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_repro_command_refuses_an_unsupported_pair(capsys) -> None:
    from harness.cli import main

    assert main(["repro", "lp-ceil", "--framework", "keras"]) == 2
    assert "does not run on keras (keras: Keras has no Lp pooling)" in capsys.readouterr().err


def test_nan_bits_survive_into_the_repro(tmp_path) -> None:
    """YAML's .nan is PyYAML's -inf/inf (x86's NaN, sign bit set): the loader keeps one NaN, and
    input_code writes any other NaN's exact bits, since frameworks hand the bits on."""
    case = case_from("max_pool", [1, 1, 4], {"kernel_size": 2}, tmp_path,
                     input={"shape": [1, 1, 4], "values": [[[1.0, float("nan"), 2.0, 3.0]]]})  # written .nan
    x = make_input(case.input)
    assert x.view(np.uint32)[0, 0, 1] == np.array(np.nan, np.float32).view(np.uint32)
    negative = -x  # the sign bit flips on the NaN too
    scope: dict = {}
    exec(input_code(case, negative), scope)  # noqa: S102
    assert scope["x_np"].tobytes() == negative.tobytes()
