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
