"""The window view: the input plane around a differing element, its window and taps, as inline SVG.

Drawn from a result's recorded `comparison.window` (harness/evidence.py; schema in
docs/results.md), the case record and harness/semantics.py, never from a framework. Whatever
colour shows is also a shape or a word (dashed and dotted borders, badges, a legend, and a
caption that says it all in prose), and every text is escaped.
"""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

from harness import semantics

INK, MUTED, NAN_INK, TAP, OVERHANG = "#222", "#666", "#b00020", "#1f5fbf", "#b35900"

# Patterns every SVG of a page refers to, written once per page (DEFS): padding hatch, NaN dots.
DEFS = Markup(
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
    '<pattern id="pp-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c8c8c8" stroke-width="2"/>'
    '</pattern><pattern id="pp-nan" width="5" height="5" patternUnits="userSpaceOnUse">'
    f'<rect width="5" height="5" fill="#fde8ee"/><circle cx="2.5" cy="2.5" r="0.7" fill="{NAN_INK}" opacity=".5"/></pattern>'
    "</defs></svg>")
TAP_TEXT = {"I": "tap", "P": "tap in the padding", "O": "tap past the padded extent (ceil-mode overhang)",
            "-": "inside the window, skipped by dilation"}


def _num(v: Any) -> float:
    """A recorded number (NaN and infinities are the strings "nan", "inf", "-inf") as a float."""
    return float(v)


def show(v: Any, digits: int = 4) -> str:
    """A number as a person reads it: 4 significant digits, NaN, +-infinity."""
    if v is None:
        return "-"
    x = _num(v)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "\u221e" if x > 0 else "\u2212\u221e"
    return f"{x:.{digits}g}"


def _region(pos: int, length: int, pad: tuple[int, int]) -> str:
    """'input', 'padding' (the declared pads) or 'beyond' (past the padded extent)."""
    if 0 <= pos < length:
        return "input"
    return "padding" if -pad[0] <= pos < length + pad[1] else "beyond"


def _svg(width: float, height: float, label: str, body: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" role="img" '
                  f'aria-label="{escape(label)}"><title>{escape(label)}</title>{body}</svg>')


def input_svg(cells: list[str], values: list[list[Any]], regions: list[list[str]], rows: list[int] | None,
              cols: list[int], pad_value: str, marks: dict[tuple[int, int], list[str]], label: str) -> Markup:
    """One 2-D panel of the input crop (1-D: a single row, `rows` None): cells with their values,
    padding hatched, taps outlined (solid on the input, dashed in the padding, dotted past it),
    dilation gaps tinted, badges (max / ref / fw) and the window's outline."""
    size = 38 if len(cols) <= 12 else 28
    left, top = (30 if rows is not None else 4), 16
    parts = [f'<text x="{left + j * size + size / 2:g}" y="11" font-size="9" text-anchor="middle" fill="{MUTED}">{c}</text>'
             for j, c in enumerate(cols)]
    for i, line in enumerate(cells):
        y = top + i * size
        if rows is not None:
            parts.append(f'<text x="{left - 4}" y="{y + size / 2 + 3:g}" font-size="9" text-anchor="end" '
                         f'fill="{MUTED}">{rows[i]}</text>')
        for j, code in enumerate(line):
            x, region, v = left + j * size, regions[i][j], values[i][j]
            fill = "url(#pp-hatch)" if region == "padding" else "#fff"
            dash = ' stroke-dasharray="3 2"' if region == "beyond" else ""
            parts.append(f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}" stroke="#bbb"{dash}/>')
            if code == "-":
                parts.append(f'<rect x="{x + 4}" y="{y + 4}" width="{size - 8}" height="{size - 8}" fill="#dce8f8"/>')
            # Values on the input; in the padding only where a tap reads it (what it reads as).
            text, ink = ((show(v, 3), NAN_INK if v == "nan" else INK) if region == "input"
                         else (pad_value, MUTED) if code == "P" else ("", MUTED))
            if text:
                bold = ' font-weight="bold"' if ink == NAN_INK else ""
                parts.append(f'<text x="{x + size / 2:g}" y="{y + size * 0.64:g}" font-size="9.5" text-anchor="middle" '
                             f'fill="{ink}"{bold}>{escape(text)}</text>')
            if code in "IPO":
                style = {"I": "", "P": ' stroke-dasharray="5 3"', "O": ' stroke-dasharray="2 2"'}[code]
                parts.append(f'<rect x="{x + 1.5}" y="{y + 1.5}" width="{size - 3}" height="{size - 3}" fill="none" '
                             f'stroke="{OVERHANG if code == "O" else TAP}" stroke-width="3"{style}/>')
            badges = marks.get((i, j), [])
            if badges:
                parts.append(f'<text x="{x + size / 2:g}" y="{y + 10}" font-size="7.5" text-anchor="middle" '
                             f'font-weight="bold" fill="{INK}">{escape(" ".join(badges))}</text>')
            where = f"({rows[i]}, {cols[j]})" if rows is not None else f"{cols[j]}"
            title = f"input {where}: {region}" + (f", value {show(v, 8)}" if region == "input" else "")
            if code in TAP_TEXT:
                title += f"; {TAP_TEXT[code]}"
            title += "".join(f"; {b}" for b in badges)
            parts.append(f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="transparent">'
                         f'<title>{escape(title)}</title></rect>')
    box = _window_box(cells)
    if box:
        (i0, j0), (i1, j1) = box
        parts.append(f'<rect x="{left + j0 * size - 3}" y="{top + i0 * size - 3}" width="{(j1 - j0 + 1) * size + 6}" '
                     f'height="{(i1 - i0 + 1) * size + 6}" fill="none" stroke="{TAP}" stroke-width="1.5"/>')
    return _svg(left + len(cols) * size + 6, top + len(cells) * size + 6, label, "".join(parts))


def _window_box(cells: list[str]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """First and last crop row and column the window spans (taps and gaps)."""
    hits = [(i, j) for i, row in enumerate(cells) for j, ch in enumerate(row) if ch in "IPO-"]
    if not hits:
        return None
    return (min(i for i, _ in hits), min(j for _, j in hits)), (max(i for i, _ in hits), max(j for _, j in hits))


def heatmap_svg(grid: list[list[Any]], origin: tuple[int, int], focus: tuple[int, int], label: str,
                scale: tuple[float, float], diff: bool = False, bad: set[tuple[int, int]] | None = None) -> Markup:
    """An output crop as a heatmap: every value on hover (<title>), printed when the cells are
    large enough; × marks an element outside tolerance, a black outline the element shown."""
    cols = len(grid[0]) if grid else 0
    size = 36 if cols <= 8 else 22
    lo, hi = scale
    parts = [f'<text x="0" y="10" font-size="11" fill="{INK}">{escape(label)}</text>']
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            x, y, val = j * size, i * size + 14, _num(v)
            if math.isnan(val):
                fill = "url(#pp-nan)"
            elif diff:
                share = min(abs(val) / hi, 1.0) ** 0.5 if hi > 0 else 0.0
                fill = f"rgb(255,{int(255 * (1 - share))},{int(255 * (1 - share))})"
            else:
                share = 0.5 if hi <= lo or not math.isfinite(val) else (val - lo) / (hi - lo)
                grey = int(248 - 130 * share)
                fill = f"rgb({grey},{grey},{min(255, grey + 20)})"
            at = (origin[0] + i, origin[1] + j)
            outside = bool(bad) and at in (bad or set())
            note = " (outside tolerance)" if outside else ""
            parts.append(f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}" stroke="#fff">'
                         f'<title>{escape(f"output {list(at)}: {label} {show(v, 8)}{note}")}</title></rect>')
            if outside:
                parts.append(f'<text x="{x + 2}" y="{y + 8}" font-size="8" fill="{INK}" pointer-events="none">\u00d7</text>')
            if size >= 30:
                text = show(v, 2 if diff else 3)
                parts.append(f'<text x="{x + size / 2:g}" y="{y + size * 0.62:g}" font-size="{8.5 if len(text) <= 5 else 7}" '
                             f'text-anchor="middle" fill="{INK}" pointer-events="none">{escape(text)}</text>')
    fi, fj = focus[0] - origin[0], focus[1] - origin[1]
    parts.append(f'<rect x="{fj * size + 1.5}" y="{fi * size + 15.5}" width="{size - 3}" height="{size - 3}" '
                 f'fill="none" stroke="{INK}" stroke-width="2.5" pointer-events="none"/>')
    width = max(cols * size, 7 * len(label))  # room for the label over a narrow crop
    return _svg(width, len(grid) * size + 14, f"{label}, output around the element", "".join(parts))


def outputs(w: dict[str, Any], label: str, dims: int, rtol: float, atol: float) -> Markup:
    """Reference, framework and |diff| heatmaps of the recorded output crop, side by side."""
    crop = w["output"]
    ref, got = (_plane(crop[k], dims) for k in ("reference", "got"))
    origin = (crop["origin"][-2], crop["origin"][-1]) if dims >= 2 else (0, crop["origin"][0])
    at = (w["at"][-2], w["at"][-1]) if dims >= 2 else (0, w["at"][-1])
    finite = [x for row in ref + got for x in map(_num, row) if math.isfinite(x)]
    scale = (min(finite), max(finite)) if finite else (0.0, 1.0)
    diffs: list[list[Any]] = []
    bad: set[tuple[int, int]] = set()
    for i, (rr, gr) in enumerate(zip(ref, got)):
        diffs.append([])
        for j, (e, g) in enumerate(zip(map(_num, rr), map(_num, gr))):
            same = e == g or (math.isnan(e) and math.isnan(g))
            d = 0.0 if same else abs(g - e)
            diffs[-1].append(d if not math.isnan(d) else "inf")
            if not same and not (math.isfinite(d) and d <= atol + rtol * abs(e)):
                bad.add((origin[0] + i, origin[1] + j))
    top = max((d for row in diffs for d in row if not isinstance(d, str) and math.isfinite(d)), default=0.0)
    return Markup("").join([heatmap_svg(ref, origin, at, "reference", scale),
                            heatmap_svg(got, origin, at, label, scale, bad=bad),
                            heatmap_svg(diffs, origin, at, "|diff|", (0.0, top or 1.0), diff=True, bad=bad)])


def _plane(nested: Any, dims: int) -> list[list[Any]]:
    """The drawable part of an output crop: 3-D has depth 1, 1-D is one row."""
    if dims == 3:
        return nested[0]  # type: ignore[no-any-return]
    return [nested] if dims == 1 else nested  # type: ignore[no-any-return]


def panels(case: dict[str, Any], w: dict[str, Any]) -> list[tuple[str, Markup]]:
    """The input crop as (heading, SVG) panels: one in 1-D and 2-D, one per depth in 3-D."""
    spatial = case["input"]["shape"][2:]
    dims = len(spatial)
    pads = [tuple(p) for p in case["params"].get("padding") or [[0, 0]] * dims]
    pad_value = "\u2212\u221e" if case["op"] in ("max_pool", "adaptive_max_pool") else "0"
    origin = w["origin"]
    marks = _marks(case, w)
    if dims == 1:
        cols = [origin[0] + j for j in range(len(w["cells"]))]
        regions = [[_region(c, spatial[0], pads[0]) for c in cols]]
        sub = {(0, p[0] - origin[0]): b for p, b in marks.items()}
        return [("", input_svg([w["cells"]], [w["input"]], regions, None, cols, pad_value, sub, "input around the window"))]
    planes = [(None, w["cells"], w["input"])] if dims == 2 else [
        (origin[0] + k, c, v) for k, (c, v) in enumerate(zip(w["cells"], w["input"]))]
    out = []
    for depth, cells, values in planes:
        rows = [origin[-2] + i for i in range(len(cells))]
        cols = [origin[-1] + j for j in range(len(cells[0]))]
        lead = [] if depth is None else [_region(depth, spatial[0], pads[0])]
        regions = [[_worst(lead + [_region(r, spatial[-2], pads[-2]), _region(c, spatial[-1], pads[-1])]) for c in cols]
                   for r in rows]
        sub = {(p[-2] - rows[0], p[-1] - cols[0]): b for p, b in marks.items() if depth is None or p[0] == depth}
        heading = "" if depth is None else f"depth {depth} ({lead[0]})"
        out.append((heading, input_svg(cells, values, regions, rows, cols, pad_value, sub,
                                       f"input around the window{', ' + heading if heading else ''}")))
    return out


def _worst(regions: list[str]) -> str:
    return "beyond" if "beyond" in regions else "padding" if "padding" in regions else "input"


def _marks(case: dict[str, Any], w: dict[str, Any]) -> dict[tuple[int, ...], list[str]]:
    """Badges by input position: max (holds the maximum), ref / fw (each side's pick)."""
    marks: dict[tuple[int, ...], list[str]] = {}
    for p in w.get("maxima", []):
        marks.setdefault(tuple(p), []).append("max")
    picks = w.get("indices")
    shape = case["input"]["shape"][2:]
    if picks:
        for who, flat in (("ref", picks["reference"]), ("fw", picks["got"])):
            if flat >= 0:
                marks.setdefault(_unravel(flat, shape), []).append(who)
    else:
        for p in w.get("got_taps", [])[:1]:
            marks.setdefault(tuple(p), []).append("fw")
        for p in w.get("maxima", [])[:1]:
            marks.setdefault(tuple(p), []).append("ref")
    return marks


def _unravel(flat: int, shape: list[int]) -> tuple[int, ...]:
    out = []
    for n in reversed(shape):
        out.append(flat % n)
        flat //= n
    return tuple(reversed(out))


def caption(case: dict[str, Any], w: dict[str, Any], label: str, others: dict[str, Any]) -> list[str]:
    """The view in sentences (what a screen reader, or a reader without the picture, gets)."""
    p, spatial = case["params"], case["input"]["shape"][2:]
    codes = "".join(_flat(w["cells"]))
    count = {k: codes.count(k) for k in "IPO-"}
    names = {1: ["positions"], 2: ["rows", "columns"], 3: ["depths", "rows", "columns"]}[len(spatial)]
    span = ", ".join(f"{name} {t[0]}..{t[-1]}" for name, t in zip(names, w["taps"]))
    lines = [f"Output element {w['at']}: reference {show(w['reference'], 8)}, {label} {show(w['got'], 8)}"
             + "".join(f"; {k} {show(v, 8)}" for k, v in others.items() if k != label) + "."]
    kinds = [f"{count['I']} on the input"] + [f"{count['P']} in the padding"] * bool(count["P"]) + [
        f"{count['O']} past the padded extent (ceil-mode overhang, never counted)"] * bool(count["O"])
    gaps = f", and skips {count['-']} cells between them (dilation {p.get('dilation')})" if count["-"] else ""
    lines.append(f"Its window reads {sum(count[k] for k in 'IPO')} taps at input {span}: {', '.join(kinds)}{gaps}.")
    if p.get("ceil_mode") and case["op"] in ("max_pool", "avg_pool", "lp_pool"):
        sizes = [(semantics.pooled_length(L, k, s, tuple(pad), d, True), semantics.pooled_length(L, k, s, tuple(pad), d, False))
                 for L, k, s, pad, d in zip(spatial, p["kernel_size"], p["stride"], p["padding"], p["dilation"])]
        lines.append("ceil_mode keeps partial last windows: " + ", ".join(
            f"{c} windows where floor mode has {f}" for c, f in sizes) + " (per dim).")
    if "divisor" in w:
        d = w["divisor"]
        rule = ("divisor_override" if p.get("divisor_override") is not None else
                "count_include_pad: the taps in the padded extent" if p.get("count_include_pad") and case["op"] == "avg_pool"
                else "the taps on the input")
        implied = (f"{label}'s value is that sum divided by {show(w['sum'], 8)} / {show(w['got'], 8)} = "
                   f"{show(d['implied'])}: the divisor it used, if it summed the same taps."
                   if d["implied"] is not None else f"{label}'s value is 0 or not finite: no divisor gives it.")
        lines.append(f"Average: the input taps sum to {show(w['sum'], 8)}; the reference divides by "
                     f"{show(d['reference'])} ({rule}). {implied}")
    if case["op"] == "lp_pool" and isinstance(w["got"], float) and isinstance(w["reference"], float) and w["reference"]:
        norm = float(p.get("norm_type") or 2.0)
        lines.append(f"Lp (p = {norm:g}): the p-th root of the sum of x**p over the input taps; "
                     f"(value / reference)**p = {show((w['got'] / w['reference']) ** norm)} for {label} "
                     f"(the window has {sum(count[k] for k in 'IPO')} taps, {count['I']} on the input).")
    if "maxima" in w:
        held = "; ".join(str(tuple(m)) for m in w["maxima"])
        what = "NaN, which propagates" if w["reference"] == "nan" else f"the maximum {show(w['reference'], 8)}"
        tie = " (a tie: the reference takes the first in scan order)" if len(w["maxima"]) > 1 else ""
        lines.append(f"Max: {what}, is held by {len(w['maxima'])} tap(s) at {held or '-'}{tie}."
                     + (f" {label}'s value is the tap at {'; '.join(str(tuple(t)) for t in w['got_taps'])}."
                        if w.get("got_taps") and w["got_taps"] != w["maxima"] else ""))
    if "indices" in w:
        shape = spatial
        ref_i, got_i = w["indices"]["reference"], w["indices"]["got"]
        lines.append(f"Indices: reference {ref_i} = position {_unravel(ref_i, shape) if ref_i >= 0 else '-'}, "
                     f"{label} {got_i} = position {_unravel(got_i, shape) if got_i >= 0 else '-'}.")
    return lines


def _flat(cells: Any) -> list[str]:
    return [cells] if isinstance(cells, str) else [s for c in cells for s in _flat(c)]
