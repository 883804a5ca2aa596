"""Copy-pasteable repro snippets: NumPy code for the exact case input, plus each adapter's
plain framework calls (adapter function `repro(case, plan) -> str`, using a NumPy `x_np`)."""

from __future__ import annotations

import json

import numpy as np

from harness.inputs import make_input
from harness.spec import INT_DTYPES, Case

MAX_LITERAL = 256  # elements: larger inputs are rebuilt from their generator
SMALL = 32  # elements: generated inputs up to this size are written out, to be read at a glance


def input_code(case: Case, x: np.ndarray | None = None) -> str:
    """NumPy code that rebuilds the case input as `x_np`."""
    spec = case.input
    dtype = "ml_dtypes.bfloat16" if spec.dtype == "bfloat16" else f"np.{spec.dtype}"
    head = "import numpy as np\n" + ("import ml_dtypes\n" if spec.dtype == "bfloat16" else "")
    x = make_input(spec) if x is None else x
    if x.size <= MAX_LITERAL and (spec.values is not None or spec.inject or x.size <= SMALL):
        # json renders floats exactly (shortest round-trip repr) and fast; NaN/Infinity -> NumPy names
        values = json.dumps(x.astype(np.float64).tolist()).replace("NaN", "np.nan").replace("Infinity", "np.inf")
        return f"{head}x_np = np.array({values}, dtype={dtype})  # shape {list(x.shape)}, channels-first\n"
    gen = spec.gen
    kind = gen.get("kind")
    shape = tuple(spec.shape)
    rng = f"np.random.default_rng({spec.seed})"
    body = {
        "randn": f"{rng}.standard_normal({shape}) * {gen.get('std', 1.0)} + {gen.get('mean', 0.0)}",
        "uniform": f"{rng}.uniform({gen.get('low', 0.0)}, {gen.get('high', 1.0)}, {shape})",
        "randint": f"{rng}.integers({int(gen.get('low', 0))}, {int(gen.get('high', 10))}, {shape}).astype(float)",
        "arange": f"({gen.get('start', 0.0)} + {gen.get('step', 1.0)} * np.arange({x.size})).reshape({shape})",
        "constant": f"np.full({shape}, {gen.get('value', 0.0)})",
    }.get(str(kind), "...")
    note = "  # special values injected by the case are not reproduced here" if spec.inject else ""
    value = f"np.rint({body})" if spec.dtype in INT_DTYPES else body  # as make_input: integers are rounded
    return f"{head}x_np = ({value}).astype({dtype}){note}\n"
