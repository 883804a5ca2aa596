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
    assert "[0, 0, 1, 1] got 1.0 expected 1.25" in html
    assert "0.25" in html  # max abs diff shown


def test_junit_is_valid_xml_with_one_testcase_per_result() -> None:
    root = ET.fromstring(render_junit(fixture()))
    assert root.tag == "testsuite" and root.get("tests") == "1" and root.get("failures") == "1"
    (tc,) = root.findall("testcase")
    assert tc.get("name", "").endswith("[torch-cpu]")
    assert tc.find("failure") is not None


def test_heatmap_is_inline_svg_scaled_to_the_worst_cell() -> None:
    doc = fixture()
    doc["results"][0]["comparison"]["heatmap"] = [[0.0, 0.25], [0.0, 0.0]]
    html = render_html(doc)
    svg = html[html.index("<svg"): html.index("</svg>")]
    assert svg.count("<rect") == 1 and 'fill="rgb(255,0,0)"' in svg and "<title>0.25</title>" in svg


def test_large_runs_page_their_details(monkeypatch) -> None:
    from harness.report import html

    monkeypatch.setattr(html, "PAGE_SIZE", 2)
    doc = fixture()
    base_case, base_result = doc["cases"][0], doc["results"][0]
    doc["cases"] = [{**base_case, "id": f"c{i}", "order": i} for i in range(5)]
    doc["results"] = [{**base_result, "case_id": f"c{i}"} for i in range(5)]
    pages = html.render_pages(doc)
    assert sorted(pages) == ["details/page-001.html", "details/page-002.html", "details/page-003.html", "index.html"]
    assert 'href="details/page-002.html#case-3"' in pages["index.html"]
    assert '<section id="case-3">' in pages["details/page-002.html"]
    assert "<section" not in pages["index.html"]


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
