"""Copy-pasteable repro snippets: NumPy code for the exact case input, plus each adapter's
plain framework calls (adapter function `repro(case, plan) -> str`, using a NumPy `x_np`)."""

from __future__ import annotations

import base64
import json
import math
import zlib

import numpy as np

from harness.inputs import make_input
from harness.spec import INT_DTYPES, Case

MAX_LITERAL = 256  # elements: larger inputs are rebuilt from their generator
SMALL = 32  # elements: generated inputs up to this size are written out, to be read at a glance


def input_code(case: Case, x: np.ndarray | None = None) -> str:
    """NumPy code that rebuilds the case input, bit for bit, as `x_np`: its values written out
    when small (or given explicitly), else the seeded generator and the injected special values,
    exactly as harness.inputs.make_input makes them."""
    spec = case.input
    dtype = "ml_dtypes.bfloat16" if spec.dtype == "bfloat16" else f"np.{spec.dtype}"
    head = "import numpy as np\n" + ("import ml_dtypes\n" if spec.dtype == "bfloat16" else "")
    x = make_input(spec) if x is None else x
    note = f"  # shape {list(x.shape)}, channels-first"
    if x.size <= MAX_LITERAL and (spec.values is not None or spec.inject or x.size <= SMALL) and _plain_nans(x):
        # json renders floats exactly (shortest round-trip repr) and fast; NaN/Infinity -> NumPy names
        values = json.dumps(x.astype(np.float64).tolist()).replace("NaN", "np.nan").replace("Infinity", "np.inf")
        return f"{head}x_np = np.array({values}, dtype={dtype}){note}\n"
    if spec.values is not None or not _plain_nans(x):  # written out in the case, large: its exact bytes
        packed = base64.b64encode(zlib.compress(np.ascontiguousarray(x).tobytes(), 9)).decode()
        return (f"{head}import base64\nimport zlib\n\nx_np = np.frombuffer(zlib.decompress(base64.b64decode(\n"
                f"    {packed!r})), dtype={dtype}).reshape({tuple(x.shape)!r}).copy(){note}\n")
    gen, shape = spec.gen, tuple(spec.shape)
    rng = f"np.random.default_rng({spec.seed})"
    body = {
        "randn": f"{rng}.standard_normal({shape}) * {_num(gen.get('std', 1.0))} + {_num(gen.get('mean', 0.0))}",
        "uniform": f"{rng}.uniform({_num(gen.get('low', 0.0))}, {_num(gen.get('high', 1.0))}, {shape})",
        "randint": f"{rng}.integers({int(gen.get('low', 0))}, {int(gen.get('high', 10))}, {shape}).astype(float)",
        "arange": f"({_num(gen.get('start', 0.0))} + {_num(gen.get('step', 1.0))} * np.arange({x.size})).reshape({shape})",
        "constant": f"np.full({shape}, {_num(gen.get('value', 0.0))})",
    }[str(gen["kind"])]
    lines = [f"data = {body}"]
    if spec.dtype in INT_DTYPES:
        lines.append("data = np.rint(data)")
    if spec.inject:
        lines.append(f"rng = np.random.default_rng({spec.seed + 1})  # the special values the case injects")
    for inj in spec.inject:
        if inj.fraction is not None:
            count = max(1, round(inj.fraction * x.size))
            lines.append(f"data.reshape(-1)[rng.choice(data.size, size={count}, replace=False)] = {_num(inj.value)}")
        if inj.at:
            lines.append(f"for at in {[tuple(p) for p in inj.at]!r}:\n    data[at] = {_num(inj.value)}")
    lines.append(f"x_np = data.astype({dtype}){note}")
    return head + "\n".join(lines) + "\n"


def _plain_nans(x: np.ndarray) -> bool:
    """Every NaN in x is NumPy's own (np.nan's bits), so literal code rebuilds it exactly."""
    if x.dtype.kind in "iub":
        return True
    nan = np.isnan(x.astype(np.float32))
    if not nan.any():
        return True
    canonical = np.full(1, np.nan, x.dtype)
    return bool((x[nan].view(np.uint8).reshape(-1, x.itemsize) == canonical.view(np.uint8)).all())


def _num(value: float) -> str:
    """A float as Python source, infinities and NaN included."""
    if math.isnan(value):
        return "np.nan"
    if math.isinf(value):
        return "np.inf" if value > 0 else "-np.inf"
    return repr(float(value))


def reference_code(output: np.ndarray, indices: np.ndarray | None = None, limit: int | None = MAX_LITERAL) -> str:
    """NumPy code defining the float64 reference as `expected` (and `expected_indices`), or ""
    when it holds more than `limit` values (None: any size, packed)."""
    if limit is not None and output.size > limit:
        return ""
    lines = [f"expected = {_array(np.asarray(output, np.float64), 'np.float64')}"]
    if indices is not None:
        lines.append(f"expected_indices = {_array(np.asarray(indices, np.int64), 'np.int64')}")
    return "\n".join(lines) + "\n"


def _array(a: np.ndarray, dtype: str) -> str:
    if a.size <= MAX_LITERAL:
        values = json.dumps(a.tolist()).replace("NaN", "np.nan").replace("Infinity", "np.inf")
        return f"np.array({values}, dtype={dtype})"
    packed = base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 9)).decode()
    return (f"np.frombuffer(__import__('zlib').decompress(__import__('base64').b64decode(\n    {packed!r})), "
            f"dtype={dtype}).reshape({tuple(a.shape)!r})")


COMPARE = '''
# ---- the float64 reference pool-parity holds this output to (docs/semantics.md)
{reference}rtol, atol = {rtol!r}, {atol!r}  # its tolerance for this case (0, 0: exact)
got = np.asarray(out).astype(np.float64)
if got.shape != expected.shape:
    print(f"output shape {{list(got.shape)}}, reference {{list(expected.shape)}}")
else:
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True) | (np.isnan(got) != np.isnan(expected))
    print(f"{{int(bad.sum())}} of {{bad.size}} output elements differ from the reference (rtol={{rtol}}, atol={{atol}})")
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        print(f"first at {{list(at)}}: got {{got[at]!r}}, expected {{expected[at]!r}}")
'''
COMPARE_INDICES = '''wrong = np.asarray(indices) != expected_indices
print(f"{int(wrong.sum())} of {wrong.size} indices differ from the reference (its tie rule: the first maximal tap)")
'''


def script(case_id: str, framework: str, device: str, input_code: str, repro: str, reference: str,
           tolerance: tuple[float, float]) -> str:
    """One standalone script for one result: the input, the framework's code (which leaves `out`),
    and, when the reference is at hand (`reference`: reference_code's text), a comparison with it."""
    head = (f"# pool-parity repro: case {case_id}, {framework} on {device} (run here on the CPU)\n"
            "# The input, the exact code pool-parity ran, and its float64 reference.\n")
    text = head + input_code + "\n" + repro
    if not reference:
        return text + ("\n# (reference not embedded: its output is large; `pool-parity repro "
                       f"{case_id} --framework {framework}` writes this script with it)\n")
    text += COMPARE.format(reference=reference, rtol=tolerance[0], atol=tolerance[1])
    both = "expected_indices" in reference and "out, indices = " in repro
    return text + (COMPARE_INDICES if both else "")
