"""`run --baseline PATH`: the run just written, diffed (harness.diff) against stored results cut to
what the run selected; the diff goes beside the report (OUT/diff/), and the report marks each
changed result (harness.report.render_all's `baseline`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.diff import DEFAULT_FAIL_ON, Rule, compare_runs, failures, parse_fail_on, restrict
from harness.errors import HarnessError
from harness.results import read_results


@dataclass
class Baseline:
    path: Path
    doc: dict[str, Any]
    fail_on: str
    rules: dict[str, Rule]
    drop: set[str] = field(default_factory=set)  # case ids the run left out (-k, --shard)


def load(path: Path | None, fail_on: str | None) -> Baseline | None:
    """The baseline and its --fail-on rules, read before the run so that a bad one stops it first."""
    if path is None:
        if fail_on is not None:
            raise HarnessError("--fail-on needs --baseline PATH (the results to diff this run against)")
        return None
    fail_on = fail_on if fail_on is not None else DEFAULT_FAIL_ON
    rules = parse_fail_on(fail_on)
    return Baseline(path, read_results(path), fail_on, rules)


def apply(baseline: Baseline, out: Path, frameworks: tuple[str, ...],
          devices: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, int], str]:
    """Diff OUT/results.json against the baseline and write OUT/diff/; return the report's marks,
    what --fail-on matched, and the terminal summary."""
    from harness.report.diff import baseline_marks, summary_text, write_diff

    old = restrict(baseline.doc, baseline.drop, frameworks, devices)
    diff = compare_runs(old, read_results(out), names=(str(baseline.path), str(out)))
    hits = failures(diff, baseline.rules)
    write_diff(diff, out / "diff", hits, baseline.fail_on)
    return (baseline_marks(diff, str(baseline.path), hits, baseline.fail_on), hits,
            summary_text(diff, hits, baseline.fail_on, out / "diff"))
