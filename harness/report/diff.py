"""A diff document (harness.diff) as diff.json, diff.md, index.html and a terminal summary.

Every change is told in one line by `describe`, the same line in all three renderings.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from harness.diff import KINDS
from harness.report.html import _ENV, _fmt

SHOWN = 20  # changed results the terminal summary lists by name


def anchor(entry: dict[str, Any]) -> str:
    """The id of a changed result on the diff page (and the fragment that links to it)."""
    return f"r-{entry['case_id']}/{entry['label']}"


def href(entry: dict[str, Any], page: str = "index.html") -> str:
    return f"{page}#{urllib.parse.quote(anchor(entry), safe='/')}"


def _num(v: Any) -> str:
    """A statistic: ULP distances and counts in full, other numbers to 3 figures."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return _fmt(v)


def _plan_text(p: dict[str, Any]) -> str:
    return "; ".join(p["conversions"] or ["none"])


def describe(e: dict[str, Any]) -> str:
    """One line for one event of a changed result."""
    kind = e["kind"]
    a: Any = e.get("before")
    b: Any = e.get("after")

    if kind == "verdict-change":
        raw = e["raw"]
        if raw[0] != raw[1]:
            extra = f" (raw {raw[0]} -> {raw[1]})" if raw != [a, b] else ""
        else:  # an expectation changed the final verdict: say what the framework did, when it is not shown
            extra = f" (raw {raw[0]} on both sides)" if raw[0] not in (a, b) else ""
        return f"{a} -> {b}{extra}"
    if kind == "raw-verdict-change":
        return f"raw verdict {a} -> {b} (the final verdict did not change)"
    if kind == "new-divergence":
        return f"now {b}: {e['reason']}" if e["reason"] else f"now {b}"
    if kind == "vanished-divergence":
        return f"no longer {a} (it was: {e['reason']})" if e["reason"] else f"no longer {a}"
    if kind in ("mode-change", "conversion-change"):
        parts = [f"{a['mode']} -> {b['mode']}"] if kind == "mode-change" else []
        if a["call"] != b["call"]:
            parts.append(f"call `{a['call']}` -> `{b['call']}`")
        if a["conversions"] != b["conversions"]:
            parts.append(f"conversions [{_plan_text(a)}] -> [{_plan_text(b)}]")
        return "; ".join(parts)
    if kind == "drift":
        text = (f"{e['part']}: max |diff| {_fmt(a['max_abs'])} -> {_fmt(b['max_abs'])}, "
                f"max ULP {_num(a['max_ulp'])} -> {_num(b['max_ulp'])}")
        if (a["mismatches"], a["total"]) != (b["mismatches"], b["total"]):
            text += f", mismatches {a['mismatches']}/{a['total']} -> {b['mismatches']}/{b['total']}"
        nonfinite = [k for k in ("nan_mismatches", "inf_mismatches") if a[k] != b[k]]
        return text + "".join(f", {k.replace('_', ' ')} {a[k]} -> {b[k]}" for k in nonfinite)
    if kind == "expectation-change":
        def say(x: dict[str, Any] | None) -> str:
            return f"{x['verdict']} ({x['reason']})" if x else "none"
        return f"{say(a)} -> {say(b)}"
    return f"{_fmt(a)} -> {_fmt(b)}"


def _versions(side: dict[str, Any]) -> str:
    return "; ".join(f"{fw}: " + ", ".join(f"{k} {v}" for k, v in v.items()) for fw, v in side["versions"].items()) or "-"


def _sides(diff: dict[str, Any]) -> list[str]:
    old, new, cut = diff["old"], diff["new"], diff["between"]
    if cut:
        lines = [f"One run, two {cut['field']}s: {cut['old']} (old side) and {cut['new']} (new side)."]
    else:
        lines = [f"Old: `{old['name']}`, {old['cases']} cases, {old['results']} results ({_versions(old)}).",
                 f"New: `{new['name']}`, {new['cases']} cases, {new['results']} results ({_versions(new)})."]
    lines += [f"**Warning:** `{s['name']}` is an incomplete (interrupted) run: its missing results show as removed."
              for s in (old, new) if not s["complete"]]
    return lines


def _verdict_line(hits: dict[str, int] | None, fail_on: str) -> str:
    if hits is None:
        return ""
    if not fail_on or fail_on == "none":
        return "`--fail-on none`: the exit status does not depend on the changes."
    if hits:
        return f"**Fails** (`--fail-on {fail_on}`): " + ", ".join(f"{k} ({n})" for k, n in hits.items()) + "."
    return f"Nothing listed in `--fail-on {fail_on}` happened."


def render_markdown(diff: dict[str, Any], hits: dict[str, int] | None = None, fail_on: str = "") -> str:
    lines = [f"# What changed: {diff['old']['name']} -> {diff['new']['name']}", "", *_sides(diff), ""]
    verdict = _verdict_line(hits, fail_on)
    lines += [verdict, ""] if verdict else []
    lines += ["## Versions and environment", ""]
    if diff["environment"]:
        lines += ["| what | old | new |", "|---|---|---|"]
        lines += [f"| {e['what']} | {_fmt(e['before'])} | {_fmt(e['after'])} |" for e in diff["environment"]]
    else:
        lines.append("No difference.")
    lines += ["", "## Summary", ""]
    if diff["counts"]:
        lines += ["| change | count |", "|---|---|"] + [f"| {k} | {n} |" for k, n in diff["counts"].items()]
    else:
        lines.append("Nothing changed.")
    cases = diff["cases"]
    for name, title in (("added", "Cases added"), ("removed", "Cases removed")):
        if cases[name]:
            lines += ["", f"## {title} ({len(cases[name])})", ""]
            lines += [f"- `{c['case_id']}` ({c['op']}, {c['source']}): "
                      + (", ".join(f"{r['label']} {r['verdict']}" for r in c["results"]) or "no results") for c in cases[name]]
    if cases["changed"]:
        lines += ["", f"## Cases whose definition changed ({len(cases['changed'])})", ""]
        lines += [f"- `{c['case_id']}`: " + "; ".join(f"{f} {_fmt(v[0])} -> {_fmt(v[1])}" for f, v in c["changes"].items())
                  for c in cases["changed"]]
    if diff["results"]:
        lines += ["", f"## Results that changed ({len(diff['results'])})", ""]
        case = None
        for r in diff["results"]:
            if r["case_id"] != case:
                case = r["case_id"]
                lines += ["", f"### `{case}`", ""]
            lines += [f"- **{r['label']}** {e['kind']}: {describe(e)}" for e in r["changes"]]
    for name, title in (("results_added", "Results added"), ("results_removed", "Results removed")):
        if diff[name]:
            lines += ["", f"## {title} ({len(diff[name])})", ""]
            lines += [f"- `{r['case_id']}` **{r['label']}**: {r['verdict']}" for r in diff[name]]
    lines += _findings_md(diff["findings"])
    return "\n".join(lines) + "\n"


def _findings_md(f: dict[str, list[dict[str, Any]]]) -> list[str]:
    if not any(f.values()):
        return ["", "## Findings", "", "The same divergence groups on both sides (`pool-parity findings`)."]
    lines = ["", "## Findings (divergence groups, as `pool-parity findings` lists them)", ""]
    for name, title in (("new", "New"), ("vanished", "Vanished"), ("resized", "Changed size")):
        for g in f[name]:
            size = f"{g['before']} -> {g['count']}" if name == "resized" else str(g["count"])
            lines.append(f"- {title}: {g['framework']}: {g['verdict']}, {size} results (smallest `{g['smallest']}`): "
                         f"{g['explanation']}")
    return lines


def render_html(diff: dict[str, Any], hits: dict[str, int] | None = None, fail_on: str = "") -> str:
    return _ENV.get_template("diff.html.j2").render(
        diff=diff, sides=_sides(diff), verdict=_verdict_line(hits, fail_on), describe=describe, anchor=anchor,
        hits=hits or {}, kinds=[k for k in KINDS if k in diff["counts"]])


def write_diff(diff: dict[str, Any], out: Path, hits: dict[str, int] | None = None, fail_on: str = "") -> None:
    """DIR/diff.json (the document, with what --fail-on matched), diff.md and index.html."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {**diff, "fail_on": fail_on, "failed": hits}
    (out / "diff.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    (out / "diff.md").write_text(render_markdown(diff, hits, fail_on), encoding="utf-8")
    (out / "index.html").write_text(render_html(diff, hits, fail_on), encoding="utf-8")


def baseline_marks(diff: dict[str, Any], path: str, hits: dict[str, int], fail_on: str) -> dict[str, Any]:
    """What `render_all` needs to mark a run's report: a banner, and each changed or new result
    with its kinds of change and its place on the diff page (OUT/diff/index.html)."""
    changed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in diff["results"]:
        kinds = list(dict.fromkeys(e["kind"] for e in r["changes"]))
        changed[(r["case_id"], r["framework"], r["device"])] = {"kinds": kinds, "href": "diff/" + href(r)}
    for r in diff["results_added"]:
        changed[(r["case_id"], r["framework"], r["device"])] = {"kinds": ["result-added"], "href": "diff/index.html"}
    for c in diff["cases"]["added"]:
        for r in c["results"]:
            changed[(c["case_id"], r["framework"], r["device"])] = {"kinds": ["case-added"], "href": "diff/index.html"}
    redefined = {c["case_id"]: {"kinds": ["case-change"], "href": "diff/index.html"} for c in diff["cases"]["changed"]}
    counts = ", ".join(f"{k} {n}" for k, n in diff["counts"].items()) or "nothing changed"
    verdict = _verdict_line(hits, fail_on).replace("**", "").replace("`", "")
    return {"path": path, "href": "diff/index.html", "changed": changed, "cases": redefined,
            "summary": f"results changed: {len(diff['results'])} ({counts}). {verdict}"}


def summary_text(diff: dict[str, Any], hits: dict[str, int] | None, fail_on: str, out: Path | None) -> str:
    """What the terminal shows: sides, versions, counts, the first changed results, the verdict."""
    lines = [f"diff {diff['old']['name']} -> {diff['new']['name']}"] + [s.replace("`", "") for s in _sides(diff)]
    lines += [f"  {e['what']}: {_fmt(e['before'])} -> {_fmt(e['after'])}" for e in diff["environment"]]
    lines.append("changes: " + (", ".join(f"{k} {n}" for k, n in diff["counts"].items()) or "none"))
    for r in diff["results"][:SHOWN]:
        lines += [f"  {r['case_id']} [{r['label']}] {e['kind']}: {describe(e)}" for e in r["changes"]]
    if len(diff["results"]) > SHOWN:
        lines.append(f"  ... and {len(diff['results']) - SHOWN} more changed results")
    lines.append(f"full diff: {out / 'index.html'} and {out / 'diff.md'}" if out else "(--out DIR writes the full diff)")
    verdict = _verdict_line(hits, fail_on)
    return "\n".join(lines + ([verdict.replace("**", "").replace("`", "")] if verdict else []))
