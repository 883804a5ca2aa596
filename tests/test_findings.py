"""findings: grouping, shared trigger parameters, smallest case, explanations."""

from __future__ import annotations

from harness.cli import main
from harness.findings import collect, render_markdown
from tests.test_report import fixture


def doc_with_divergences() -> dict:
    doc = fixture()
    case, res = doc["cases"][0], doc["results"][0]
    doc["cases"] = [
        {**case, "id": "big", "input": {**case["input"], "shape": [1, 1, 8, 8]}, "params": {"kernel_size": [3, 3], "ceil_mode": True}},
        {**case, "id": "small", "input": {**case["input"], "shape": [1, 1, 4, 4]}, "params": {"kernel_size": [2, 2], "ceil_mode": True}},
        {**case, "id": "other", "params": {"kernel_size": [2, 2], "ceil_mode": False}},
    ]
    exp = {"verdict": "numeric_mismatch", "reason": "ceil windows differ", "link": "https://example.org/i/1"}
    doc["results"] = [
        {**res, "case_id": "big", "verdict": "known_divergence", "expectation": exp},
        {**res, "case_id": "small", "verdict": "known_divergence", "expectation": exp},
        {**res, "case_id": "other", "raw_verdict": "unsupported", "verdict": "unsupported", "reason": "no dilation"},
    ]
    return doc


def test_groups_share_trigger_and_pick_smallest_case() -> None:
    found, unsup = collect(doc_with_divergences())
    (f,) = found
    assert f["count"] == 2 and f["smallest"] == "small" and f["known"]
    assert f["trigger"]["ceil_mode"] is True and "kernel_size" not in f["trigger"]
    assert f["explanation"] == "ceil windows differ" and f["links"] == ["https://example.org/i/1"]
    assert unsup == [{"framework": "torch", "reason": "no dilation", "count": 1, "example": "other"}]


def test_markdown_names_undeclared_divergences(tmp_path) -> None:
    doc = doc_with_divergences()
    doc["results"][0].update(expectation=None, verdict="numeric_mismatch")
    text = render_markdown(doc)
    assert "not declared in `expect:`" in text and "UNEXPLAINED" in text


def test_cli_writes_findings(tmp_path) -> None:
    import json

    (tmp_path / "results.json").write_text(json.dumps(doc_with_divergences()))
    out = tmp_path / "findings.md"
    assert main(["findings", str(tmp_path), "--out", str(out)]) == 0
    assert out.read_text().startswith("# Findings")
    assert main(["findings", str(tmp_path / "missing")]) == 2


def test_results_of_a_case_an_interrupted_run_never_finished_are_grouped_too() -> None:
    """Such results are in results.json without their case record (docs/results.md)."""
    doc = doc_with_divergences()
    doc["cases"] = [c for c in doc["cases"] if c["id"] not in ("big", "small")]
    (f,) = collect(doc)[0]
    assert f["count"] == 2 and f["smallest"] == "" and f["trigger"] == {}  # no case record: no size, no name
