"""The report in a real browser: Debian's Chromium, headless, driven by selenium through Debian's
chromedriver, both given by path (Selenium Manager, which would download a driver, never runs).

The report is a small real run (tests/report_run.py: the seed cases plus a ceil-mode case, with
a planted ceil-mode divisor bug). Where Chromium, chromedriver or selenium is missing the tests
are skipped, saying which (`.ci/run` installs them: apt-get install chromium chromium-driver).
Screenshots are saved in reports/browser-test/ (git-ignored), for a person to look at.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

import harness.report
from tests.helpers import ROOT
from tests.report_run import small_run

CHROMIUM = os.environ.get("POOL_PARITY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("POOL_PARITY_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps reaching for Google services, which a
# closed network refuses (noise, and slow starts).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000")
SHOTS = ROOT / "reports" / "browser-test"


def _require_browser() -> Any:
    """selenium's webdriver, or a skip saying what is missing."""
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")):
        if not os.access(path, os.X_OK):
            pytest.skip(f"no {what} at {path} (Debian: apt-get install chromium chromium-driver)")
    return pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the `test` extra)")


def _chrome(javascript: bool = True) -> Any:
    """A fresh headless Chromium (its own profile)."""
    webdriver = _require_browser()
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def refuse(*_: Any) -> Any:
        raise AssertionError("Selenium Manager would fetch a driver; the Debian chromedriver must be used")

    SeleniumManager.binary_paths = refuse  # type: ignore[method-assign]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='pool-parity-chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    _require_browser()
    tmp = tmp_path_factory.mktemp("browser")
    out, doc = small_run(tmp)
    paged = tmp / "paged"
    saved = harness.report.PAGE_SIZE
    harness.report.PAGE_SIZE = 5  # the same results with their details on four pages
    try:
        harness.report.render_all(doc, paged)
    finally:
        harness.report.PAGE_SIZE = saved
    SHOTS.mkdir(parents=True, exist_ok=True)
    return {"index": (out / "index.html").as_uri(), "paged": (paged / "index.html").as_uri(), "doc": doc}


@pytest.fixture(scope="module")
def browser() -> Any:
    driver = _chrome()
    yield driver
    driver.quit()


def visible_rows(browser: Any) -> list[str]:
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#matrix tbody tr')).filter(r => r.offsetParent !== null)"
        ".map(r => r.cells[0].textContent)")


def _source_links(index_uri: str) -> str:
    """The case ids index.html links as written (before any script)."""
    from urllib.parse import urlparse

    page = Path(urlparse(index_uri).path).read_text()
    return " ".join(re.findall(r'<td><a href="[^"]*#case-\d+">([^<]+)</a>', page))


def errors(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_failures_come_before_the_matrix_and_filters_change_the_rows(browser: Any, report: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    doc = report["doc"]
    browser.get(report["index"])
    assert browser.execute_script(
        "return document.getElementById('failures').compareDocumentPosition(document.getElementById('matrix'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING") != 0
    failing = {r["case_id"] for r in doc["results"] if r["verdict"] != "pass"}
    listed = browser.find_elements(By.CSS_SELECTOR, "#failures tbody tr td:first-child a")
    assert {a.text for a in listed} == failing and len(failing) == 3
    browser.save_screenshot(str(SHOTS / "index.png"))
    ids = [c["id"] for c in doc["cases"]]
    assert visible_rows(browser) == ids
    Select(browser.find_element(By.ID, "f-op")).select_by_visible_text("avg_pool")
    assert visible_rows(browser) == [c["id"] for c in doc["cases"] if c["op"] == "avg_pool"] != ids
    Select(browser.find_element(By.ID, "f-op")).select_by_index(0)
    Select(browser.find_element(By.ID, "f-fw")).select_by_visible_text("wrongdiv-cpu")
    browser.find_element(By.ID, "f-fail").click()
    assert set(visible_rows(browser)) == failing
    assert browser.find_element(By.ID, "f-count").text == f"showing 3 of {len(ids)} cases"
    browser.find_element(By.ID, "f-fail").click()
    Select(browser.find_element(By.ID, "f-fw")).select_by_index(0)
    box = browser.find_element(By.ID, "f-text")
    box.send_keys("D3")
    browser.implicitly_wait(0)
    browser.execute_script("window.ppMatrix.apply()")  # what the 120 ms typing pause would do
    assert visible_rows(browser) == ["seed-D3-avg-ceil-cip"]
    browser.save_screenshot(str(SHOTS / "filtered.png"))
    box.clear()
    browser.execute_script("window.ppMatrix.apply()")
    browser.find_element(By.CSS_SELECTOR, '#matrix th[data-key="worst"] button').click()
    worst = {c: max([(r.get("comparison") or {}).get("output", {}).get("max_abs") or 0.0
                     for r in doc["results"] if r["case_id"] == c] or [0.0]) for c in ids}
    assert visible_rows(browser)[0] == max(worst, key=lambda c: worst[c]) == "ceil-avg-asym-dilated"
    assert errors(browser) == []


def test_a_deep_link_opens_the_window_view_of_a_ceil_mode_mismatch(browser: Any, report: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(report["index"] + "#ceil-avg-asym-dilated/wrongdiv")  # framework only: its (one) device
    target = browser.find_element(By.ID, "ceil-avg-asym-dilated/wrongdiv-cpu")
    assert target.get_attribute("open") is not None and "targeted" in target.get_attribute("class")
    assert browser.execute_script("const r = arguments[0].getBoundingClientRect(); return r.top >= -1 && "
                                  "r.top < window.innerHeight", target)
    figure = target.find_element(By.CSS_SELECTOR, "figure.window-view")
    assert figure.is_displayed()
    svgs = figure.find_elements(By.CSS_SELECTOR, ".wv-panel > svg, .wv-row > svg")  # the input, 3 heatmaps
    assert len(svgs) == 4 and all(s.size["width"] > 50 and s.size["height"] > 40 for s in svgs)
    # the last window's dilated taps: column 6 on the input, column 8 past the padded extent (ceil mode)
    overhang = svgs[0].find_elements(By.CSS_SELECTOR, 'rect[stroke="#b35900"][stroke-dasharray="2 2"]')
    assert len(overhang) == 3
    assert "past the padded extent (ceil-mode overhang" in figure.find_element(By.TAG_NAME, "figcaption").text
    browser.execute_script("arguments[0].scrollIntoView()", figure)
    figure.screenshot(str(SHOTS / "window-view.png"))
    browser.save_screenshot(str(SHOTS / "deep-link.png"))
    assert errors(browser) == []


def test_a_deep_link_into_a_paged_report_opens_the_right_details_page(browser: Any, report: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    position = [c["id"] for c in report["doc"]["cases"]].index("seed-D3-avg-ceil-cip")
    browser.get(report["paged"] + "#seed-D3-avg-ceil-cip/wrongdiv-cpu")
    page = f"details/page-{position // 5 + 1:03d}.html"
    assert browser.current_url.endswith(f"{page}#seed-D3-avg-ceil-cip/wrongdiv-cpu")
    target = browser.find_element(By.ID, "seed-D3-avg-ceil-cip/wrongdiv-cpu")
    assert target.get_attribute("open") is not None and target.find_element(By.CSS_SELECTOR, "figure.window-view")
    browser.save_screenshot(str(SHOTS / "paged-deep-link.png"))
    # rows whose results all pass carry no link in a paged report: a click still opens the case
    browser.get(report["paged"])
    row = [tr for tr in browser.find_elements(By.CSS_SELECTOR, "#matrix tbody tr")
           if tr.find_element(By.TAG_NAME, "td").text == "seed-A2-max-k3-floor"][0]
    # written without a link (a quiet row of a paged report), it gets one once its chunk is near the screen
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("arguments[0].scrollIntoView()", row)
    link = WebDriverWait(browser, 5).until(lambda _: row.find_elements(By.CSS_SELECTOR, "td:first-child a"))[0]
    assert "seed-A2-max-k3-floor" not in _source_links(report["paged"])
    link.click()
    a2 = [c["id"] for c in report["doc"]["cases"]].index("seed-A2-max-k3-floor")
    assert f"details/page-{a2 // 5 + 1:03d}.html#seed-A2-max-k3-floor" in browser.current_url
    section = browser.find_element(By.CSS_SELECTOR, 'section[data-case="seed-A2-max-k3-floor"]')
    assert "targeted" in section.get_attribute("class")
    assert errors(browser) == []


def test_without_javascript_the_report_still_reads(report: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    driver = _chrome(javascript=False)
    try:
        driver.get(report["index"])
        assert not driver.find_element(By.ID, "filters").is_displayed()  # only the filters need the script
        assert len(driver.find_elements(By.CSS_SELECTOR, "#failures tbody tr")) == 3
        target = driver.find_element(By.ID, "seed-D3-avg-ceil-cip/wrongdiv-cpu")
        assert target.get_attribute("open") is not None  # differing results are open as written
        assert target.find_element(By.CSS_SELECTOR, "figure.window-view svg").is_displayed()
        driver.save_screenshot(str(SHOTS / "no-javascript.png"))
    finally:
        driver.quit()

