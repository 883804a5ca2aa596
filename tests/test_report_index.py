"""index.html of a small real run: failures first, clusters, the divergence map, the matrix,
deep-link targets, repro downloads, paging (tests/report_run.py: a planted ceil-mode divisor bug)."""

from __future__ import annotations

import base64
import html as htmllib
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

import harness.report
from harness import repro
from harness.report import render_all, render_html
from tests.report_run import small_run
from tests.test_report import fixture


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    return small_run(tmp_path_factory.mktemp("report"))


def failing(doc: dict) -> set[tuple[str, str]]:
    return {(r["case_id"], r["framework"]) for r in doc["results"] if r["verdict"] != "pass"}


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start: page.index("</section>", start)]


def test_failures_come_first_and_link_to_each_results_details(run) -> None:
    out, doc = run
    page = (out / "index.html").read_text()
    at = [page.index(f'id="{name}"') for name in ("verdict", "failures", "divergences", "map", "matrix")]
    assert at == sorted(at)
    assert "<strong>FAIL</strong>: 3 unacceptable results of 36" in page
    # D3's corner window: the reference divides by 4, the planted bug by 9 (SEED_EXAMPLES D3)
    assert ("seed-D3-avg-ceil-cip", "wrongdiv") in failing(doc) and len(failing(doc)) == 3
    failures = section(page, "failures")
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', failures)
    assert {(unquote(h).split("/")[0], unquote(h).rsplit("/", 1)[1].rsplit("-", 1)[0]) for h, _ in links} == failing(doc)
    for href, _ in links:  # each target is a result's details, on this page (a small run)
        assert f'<details class="result" id="{htmllib.escape(unquote(href))}" open>' in page


def map_rows(page: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """The map as {(parameter, value): (cell per framework-device)}."""
    rows, feature = {}, ""
    for row in re.findall(r"<tr>(.*?)</tr>", section(page, "map"), re.S)[1:]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        feature = cells[0] or feature
        rows[(feature, cells[1])] = tuple(cells[2:])
    return rows


def test_clusters_and_the_map_of_where_divergences_live(run) -> None:
    out, doc = run
    page = (out / "index.html").read_text()
    clusters = section(page, "divergences")
    assert clusters.count("<tr><td>") == 3 and "not declared in expect:" in clusters
    assert '<th scope="col">good-cpu</th><th scope="col">wrongdiv-cpu</th>' in section(page, "map")
    rows = map_rows(page)
    count = lambda **kv: sum(all(c[k] == v if k == "op" else c["params"].get(k) == v for k, v in kv.items())  # noqa: E731
                             for c in doc["cases"])
    ceil = count(ceil_mode=True, op="max_pool") + count(ceil_mode=True, op="avg_pool")
    avg, mx = count(op="avg_pool"), count(op="max_pool")
    # the planted bug: wrongdiv diverges on the three ceil-mode averages and nowhere else
    assert rows[("ceil_mode", "true")] == (f"0 / {ceil}", f"3 / {ceil}")
    assert rows[("op", "avg_pool")] == (f"0 / {avg}", f"3 / {avg}")
    assert rows[("op", "max_pool")] == (f"0 / {mx}", f"0 / {mx}")
    assert rows[("ceil_mode", "false")][1].startswith("0 / ")


def test_the_matrix_reads_without_javascript_and_links_its_non_pass_cells(run) -> None:
    out, doc = run
    page = (out / "index.html").read_text()
    assert '<form class="filters" id="filters" hidden' in page  # shown by the script only
    matrix = page[page.index('<div id="matrix"'):]
    matrix = matrix[: matrix.index("</section>")]
    assert matrix.count("<tr") == len(doc["cases"]) + 1 and matrix.count('<div class="chunk">') == 1
    assert '<td class="v-numeric_mismatch"><a href="#seed-D3-avg-ceil-cip/wrongdiv-cpu">numeric_mismatch</a>' in matrix
    # a case whose results all pass: one cell; every row links its case (one page: this one)
    assert '<tr data-tags="seed"><td><a href="#case-1">seed-A2-max-k3-floor</a><td>max_pool<td colspan=2 class=v-pass>all pass' in matrix


def test_details_offer_the_complete_repro_script_to_copy_and_download(run) -> None:
    out, doc = run
    page = (out / "index.html").read_text()
    case = next(c for c in doc["cases"] if c["id"] == "seed-D3-avg-ceil-cip")
    result = next(r for r in doc["results"] if r["case_id"] == case["id"] and r["framework"] == "wrongdiv")
    out_stats = result["comparison"]["output"]
    script = repro.script(case["id"], "wrongdiv", "cpu", case["input_code"], result["repro"], case["reference_code"],
                          (out_stats["rtol"], out_stats["atol"]))
    assert script.startswith("# pool-parity repro") and case["input_code"] + "\n" + result["repro"] in script
    block = page[page.index('id="seed-D3-avg-ceil-cip/wrongdiv-cpu"'):]
    block = block[: block.index("</pre></details>") + 6]
    shown = htmllib.unescape(re.search(r'<pre class="repro">(.*?)</pre>', block, re.S).group(1))
    assert shown == script and "x_np = np.array(" in shown
    url = re.search(r'download="repro-seed-D3-avg-ceil-cip-wrongdiv.py" href="data:text/x-python;charset=utf-8;base64,([^"]+)"',
                    block).group(1)
    assert base64.b64decode(url).decode() == script
    # complete: run alone, it rebuilds the output the run recorded (the window's crop is the whole 3x3 plane)
    proc = subprocess.run([sys.executable, "-c", script + "import json; print(json.dumps(out.tolist()))"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])[0][0] == result["comparison"]["window"]["output"]["got"]
    # and it compares itself with the embedded float64 reference, as `pool-parity repro` does
    assert f"{out_stats['mismatches']} of 9 output elements differ from the reference" in proc.stdout
    assert '<figure class="window-view">' in block


def test_a_paged_report_links_failures_and_clusters_to_the_right_page(run, tmp_path, monkeypatch) -> None:
    _, doc = run
    monkeypatch.setattr(harness.report, "PAGE_SIZE", 5)
    render_all(doc, tmp_path)
    page = (tmp_path / "index.html").read_text()
    positions = {c["id"]: i for i, c in enumerate(doc["cases"])}
    links = re.findall(r'<a href="(details/page-\d+\.html)#([^"]+)">', section(page, "failures") + section(page, "divergences"))
    assert len(links) == 6  # three failures, three clusters' smallest cases
    # the matrix links a case's page only where a result is not a pass (the script finds the others)
    assert '<tr data-tags="seed"><td>seed-A2-max-k3-floor<td>max_pool<td colspan=2 class=v-pass>all pass' in page
    d3 = positions["seed-D3-avg-ceil-cip"] // 5 + 1
    assert f'<td class="v-numeric_mismatch"><a href="details/page-{d3:03d}.html#seed-D3-avg-ceil-cip/wrongdiv-cpu">' in page
    for file, target in links:
        case_id = unquote(target).rsplit("/", 1)[0]
        assert file == f"details/page-{positions[case_id] // 5 + 1:03d}.html"
        assert f'id="{unquote(target)}"' in (tmp_path / file).read_text()


def test_no_failures_says_so_and_every_text_is_escaped() -> None:
    doc = fixture()
    nasty = "<img src=x onerror=alert(1)>"
    doc["results"][0].update(verdict="known_divergence", reason=nasty, expectation={"verdict": "numeric_mismatch",
                                                                                  "reason": nasty, "link": None})
    page = render_html(doc)
    assert "<strong>PASS</strong>" in page and "No failures" in section(page, "failures")
    assert nasty not in page and htmllib.escape(nasty, quote=False) in page
    doc["results"][0].update(verdict="numeric_mismatch")
    page = render_html(doc)
    assert nasty not in section(page, "failures") and "No failures" not in page


def test_a_long_failure_list_says_how_many_more_there_are(run, monkeypatch) -> None:
    from harness.report import html

    _, doc = run
    monkeypatch.setattr(html, "LISTED_FAILURES", 2)
    failures = section(render_html(doc), "failures")
    assert failures.count("<tr><td><a href=") == 2 and "and 1 more: the matrix below finds them" in failures
