"""Where divergences live: divergent results by parameter value, per framework-device.

A row per value a case can have (op, dims, dtype, ceil_mode, padding kind, count_include_pad,
dilation, special input values), a column per framework-device, and in each cell "divergent
results / results run" (unsupported and skipped results did not run). Read at a glance, a
column that is non-zero only in the rows `op max_pool` and `input nan` says "this framework
diverges only with NaN and max". Counted a case at a time (the report's first pass).
"""

from __future__ import annotations

from typing import Any

from harness.findings import DIVERGENT

NOT_RUN = ("unsupported", "skipped")
FEATURES = ("op", "spatial dims", "dtype", "ceil_mode", "padding", "count_include_pad", "dilation", "input")


def _padding_kind(params: dict[str, Any]) -> str:
    mode = params.get("padding_mode")
    if mode in ("same", "valid"):
        return str(mode)
    pads = [tuple(p) for p in params.get("padding") or []]
    if not any(b or a for b, a in pads):
        return "none"
    return "symmetric" if all(b == a for b, a in pads) else "asymmetric"


def features(case: dict[str, Any]) -> list[tuple[str, str]]:
    """(feature, value) pairs of a case; parameters only where they apply to its op."""
    from harness.normalise import PARAMS_FOR_OP  # the parameters each op takes (no framework)

    p, applies = case["params"], PARAMS_FOR_OP.get(case["op"], ())
    out = [("op", case["op"]), ("spatial dims", str(len(case["input"]["shape"]) - 2)), ("dtype", case["input"]["dtype"])]
    if "ceil_mode" in applies:
        out.append(("ceil_mode", str(bool(p.get("ceil_mode"))).lower()))
    if "padding" in applies:
        out.append(("padding", _padding_kind(p)))
    if "count_include_pad" in applies:
        out.append(("count_include_pad", str(bool(p.get("count_include_pad"))).lower()))
    if "dilation" in applies:
        out.append(("dilation", "1" if all(d == 1 for d in p.get("dilation") or [1]) else "> 1"))
    out += [("input", v) for v in case.get("special") or ["all finite"]]
    return out


class DivergenceMap:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], dict[str, list[int]]] = {}  # (feature, value): label: [divergent, run]
        self.labels: set[str] = set()

    def add(self, case: dict[str, Any], results: list[dict[str, Any]]) -> None:
        ran = [r for r in results if r["raw_verdict"] not in NOT_RUN]
        if not ran:
            return
        for key in features(case):
            row = self.counts.setdefault(key, {})
            for r in ran:
                label = f"{r['framework']}-{r['device']}"
                self.labels.add(label)
                cell = row.setdefault(label, [0, 0])
                cell[0] += r["raw_verdict"] in DIVERGENT
                cell[1] += 1

    def rows(self) -> list[tuple[str, str, dict[str, list[int]]]]:
        """(feature, value, {label: [divergent, run]}), by feature, then value."""
        order = {f: i for i, f in enumerate(FEATURES)}
        return [(f, v, cells) for (f, v), cells in sorted(self.counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))]

    def any(self) -> bool:
        return any(cell[0] for row in self.counts.values() for cell in row.values())
