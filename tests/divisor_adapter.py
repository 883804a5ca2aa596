"""A stand-in framework with a planted bug: ceil-mode averages divide by the whole kernel.

It answers every case with the float64 reference rounded to the case dtype, except `avg_pool`
with `ceil_mode`, where each window's sum of real taps is divided by prod(kernel_size): the
partial last windows then count their ceil-mode overhang (and padding), the kind of divisor
bug the report's window view is there to show. That computation is a NumPy script built per
case (`repro`), and `execute` runs exactly that script, as the real adapters do. Register it
with POOL_PARITY_ADAPTERS="wrongdiv=tests.divisor_adapter".
"""

from __future__ import annotations

import math

import numpy as np

from harness import reference, semantics
from harness.adapters.base import Outcome
from harness.plan import Plan
from harness.spec import Case
from tests.faulty_adapter import probe

__all__ = ["probe", "plan", "execute", "repro"]

SCRIPT = """import itertools
import numpy as np
kernel, stride, dilation = {kernel}, {stride}, {dilation}
pads = {pads}  # before, after per dim: the declared pads and the ceil-mode overhang, as zeros
windows = {windows}
x = np.pad(x_np.astype(np.float64), [(0, 0), (0, 0)] + pads)
out = np.zeros(x.shape[:2] + windows)
for at in itertools.product(*[range(n) for n in windows]):
    taps = tuple(slice(i * s, i * s + d * (k - 1) + 1, d) for i, s, k, d in zip(at, stride, kernel, dilation))
    out[(slice(None), slice(None), *at)] = x[(slice(None), slice(None), *taps)].sum(axis=tuple(range(2, x.ndim)))
out = (out / {divisor}).astype(x_np.dtype)  # the planted bug: every window divided by the whole kernel
print(out)
"""


def _planted(case: Case) -> bool:
    return case.op == "avg_pool" and case.params.ceil_mode


def plan(case: Case, backend: str | None = None) -> Plan:
    return Plan("native", "wrongdiv.avg_pool(x)" if _planted(case) else "wrongdiv.pool(x)")


def repro(case: Case, plan: Plan) -> str:
    if not _planted(case):
        return ""
    p = case.params
    pads = semantics.emulation_pads(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation, True)
    windows = tuple(semantics.pooled_length(L, k, s, pad, d, True)
                    for L, k, s, pad, d in zip(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation))
    return SCRIPT.format(kernel=p.kernel_size, stride=p.stride, dilation=p.dilation, pads=[list(x) for x in pads],
                         windows=windows, divisor=math.prod(p.kernel_size))


def execute(case: Case, plan: Plan, x: np.ndarray, device: str, upstream: np.ndarray | None = None) -> Outcome:
    ref = reference.compute(case, x, upstream)
    out = ref.output.astype(x.dtype)
    if _planted(case):
        scope = {"x_np": x, "print": lambda *_: None}
        exec(repro(case, plan), scope)  # noqa: S102 - the script is the implementation
        out = scope["out"]
    return Outcome(output=out, indices=ref.indices,
                   grad=None if ref.grad is None else ref.grad.astype(x.dtype), dtype=str(x.dtype))
