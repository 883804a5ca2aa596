"""Reports rendered from a results fixture: content, escaping, JUnit validity."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.report import render_html, render_junit


def fixture() -> dict[str, Any]:
    nasty = "<script>alert(1)</script>"
    return {
        "schema_version": 1,
        "meta": {"seed": 3, "duration": 1.5, "started": 0, "complete": True, "events": [],
                 "environment": {"platform": "Linux", "machine": "x86_64", "python": "3.11", "env": {"XLA_FLAGS": None}},
                 "frameworks": {"torch": {"versions": {"torch": "2.13.0"}, "devices": {"cpu": "cpu"}, "backend": None}}},
        "cases": [{"id": nasty, "order": 0, "op": "max_pool", "description": nasty, "tags": ["t1"], "source": "c.yaml:1",
                   "input": {"shape": [1, 1, 4, 4], "dtype": "float32", "layout": "channels_first"},
                   "params": {"kernel_size": [2, 2]}, "grad": False, "yaml": "- id: x", "ref_shape": [1, 1, 2, 2],
                   "agreement": []}],
        "results": [
            {"case_id": nasty, "framework": "torch", "device": "cpu", "device_name": "cpu", "mode": "native",
             "call": "F.max_pool2d(x)", "conversions": ["none"], "plan_reason": "", "verdict": "numeric_mismatch",
             "raw_verdict": "numeric_mismatch", "reason": "output: 1/4 elements differ", "error": None, "seconds": 0.001,
             "expectation": None,
             "comparison": {"shape": [1, 1, 2, 2], "ref_shape": [1, 1, 2, 2], "dtype": "float32",
                            "output": {"total": 4, "mismatches": 1, "nan_mismatches": 0, "inf_mismatches": 0,
                                       "max_abs": 0.25, "max_rel": 0.1, "max_ulp": 12.0,
                                       "first": [{"index": [0, 0, 1, 1], "got": 1.0, "expected": 1.25}], "worst": None}}},
        ],
    }


def test_html_contains_summary_rows_and_escapes_text() -> None:
    html = render_html(fixture())
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "torch 2.13.0" in html and "numeric_mismatch" in html
    assert "[0, 0, 1, 1]: got 1.0, expected 1.25" in html
    assert "0.25" in html  # max abs diff shown


def test_junit_is_valid_xml_with_one_testcase_per_result() -> None:
    root = ET.fromstring(render_junit(fixture()))
    assert root.tag == "testsuite" and root.get("tests") == "1" and root.get("failures") == "1"
    (tc,) = root.findall("testcase")
    assert tc.get("name", "").endswith("[torch-cpu]")
    assert tc.find("failure") is not None


def test_junit_maps_every_verdict_and_escapes_text() -> None:
    doc = fixture()
    base = doc["results"][0]
    nasty = 'a <b> & "c"\nline\x1b[0m'
    verdicts = ["pass", "numeric_mismatch", "error", "unsupported", "skipped", "known_divergence", "tie_break"]
    doc["results"] = [{**base, "framework": f"fw{i}", "verdict": v, "reason": nasty, "error": nasty, "seconds": 0.5}
                      for i, v in enumerate(verdicts)]
    root = ET.fromstring(render_junit(doc))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("7", "1", "1", "2")
    cases = root.findall("testcase")
    assert [len(tc) for tc in cases] == [0, 1, 1, 1, 1, 1, 1]
    assert [tc[0].tag for tc in cases[1:]] == ["failure", "error", "skipped", "skipped", "system-out", "system-out"]
    assert cases[1][0].get("message") == 'numeric_mismatch: a <b> & "c"\nline?[0m'
    assert cases[2][0].text == 'a <b> & "c"\nline?[0m' and cases[0].get("time") == "0.500000"
    assert cases[0].get("classname") == doc["cases"][0]["source"].split(":")[0]


def test_heatmap_is_inline_svg_scaled_to_the_worst_cell() -> None:
    doc = fixture()
    doc["results"][0]["comparison"]["heatmap"] = [[0.0, 0.25], [0.0, 0.0]]
    html = render_html(doc)
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" width="16"')
    svg = html[start: html.index("</svg>", start)]
    assert svg.count("<rect") == 1 and 'fill="rgb(255,0,0)"' in svg and "<title>0.25</title>" in svg


def test_large_runs_page_their_details(monkeypatch, tmp_path) -> None:
    import harness.report

    monkeypatch.setattr(harness.report, "PAGE_SIZE", 2)
    doc = fixture()
    base_case, base_result = doc["cases"][0], doc["results"][0]
    doc["cases"] = [{**base_case, "id": f"c{i}", "order": i} for i in range(5)]
    doc["results"] = [{**base_result, "case_id": f"c{i}"} for i in range(5)]
    (tmp_path / "details").mkdir()
    (tmp_path / "details" / "page-009.html").write_text("from an earlier run")
    summary = harness.report.render_all(doc, tmp_path)
    pages = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*.html")}
    assert sorted(pages) == ["details/page-001.html", "details/page-002.html", "details/page-003.html", "index.html"]
    assert 'href="details/page-002.html#case-3"' in pages["index.html"]
    assert '<section id="case-3"' in pages["details/page-002.html"]
    assert '<section id="case-' not in pages["index.html"]  # case details only on their pages
    assert (summary["case_count"], summary["result_count"], summary["failing_count"]) == (5, 5, 5)
    assert summary["table"] == {"torch-cpu": {"numeric_mismatch": 5}}
    worst = base_result["comparison"]["output"]["max_abs"]
    assert worst > 0 and pages["index.html"].count(f"<td>{worst}\n") == 5  # the matrix's worst |diff|
    junit = ET.fromstring((tmp_path / "junit.xml").read_text())
    assert [tc.get("name") for tc in junit] == [f"c{i}[torch-cpu]" for i in range(5)] and junit.get("failures") == "5"


def test_results_json_round_trips_one_record_per_line(tmp_path) -> None:
    import json

    from harness.results import write_json

    doc = {"schema_version": 1, "meta": {"seed": 0, "timings": {"x": 1.5}, "events": []},
           "cases": [{"id": "a", "yaml": "op: max_pool\n"}, {"id": "b\u00e9", "tags": []}],
           "results": [], "extra": [[1, 2], {"k": None}]}
    path = tmp_path / "results.json"
    write_json(path, doc)
    assert json.loads(path.read_text()) == doc
    lines = path.read_text().splitlines()
    assert sum(line.startswith(' {"id"') for line in lines) == 2  # a line per case
    assert not (tmp_path / "results.json.tmp").exists()


def test_writer_assembles_results_json_in_suite_order_from_out_of_order_lines(tmp_path) -> None:
    import json

    import numpy as np

    from harness.results import ResultWriter

    w = ResultWriter(tmp_path)
    # Cases finish out of order; case 2 never finishes (an interrupted run): its result stays in
    # results.json but has no case to be shown under.
    w.write("result", {"case_id": "b", "framework": "torch", "device": "cpu", "verdict": "pass"}, key=(1, "torch", "cpu"))
    w.write("result", {"case_id": "c", "framework": "jax", "device": "cpu", "verdict": "error"}, key=(2, "jax", "cpu"))
    w.write("result", {"case_id": "b", "framework": "jax", "device": "cpu", "verdict": "numeric_mismatch",
                       "reason": "x \u00e9"}, key=(1, "jax", "cpu"))
    w.write("case", {"id": "b", "order": 1}, key=(1,))
    # NumPy scalars (a statistic left unconverted) are written as plain numbers.
    w.write("result", {"case_id": "a", "framework": "jax", "device": "cpu", "verdict": "pass",
                       "seconds": np.float64(0.25), "total": np.int64(3)}, key=(0, "jax", "cpu"))
    w.write("case", {"id": "a", "order": 0}, key=(0,))
    stored = w.close({"seed": 0})
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [c["id"] for c in doc["cases"]] == ["a", "b"]
    assert [(r["case_id"], r["framework"]) for r in doc["results"]] == [("a", "jax"), ("b", "jax"), ("b", "torch"),
                                                                       ("c", "jax")]
    assert doc["results"][1]["reason"] == "x \u00e9" and "kind" not in doc["results"][0]
    assert (doc["results"][0]["seconds"], doc["results"][0]["total"]) == (0.25, 3)
    assert doc["meta"]["counts"] == {"error": 1, "numeric_mismatch": 1, "pass": 2} == stored.meta["counts"]
    items = [(c["id"], [r["framework"] for r in rs]) for c, rs in stored.items()]
    assert items == [("a", ["jax"]), ("b", ["jax", "torch"])]
