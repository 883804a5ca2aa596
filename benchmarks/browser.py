"""How fast a large report opens in a browser: Debian's headless Chromium, via selenium and
Debian's chromedriver (as tests/test_browser.py drives it).

    python benchmarks/browser.py RESULTS.json [--cases 10000] [--repeat 3]

RESULTS.json is a real run's (`nox -s parity` writes reports/latest/results.json); its cases are
repeated, under new ids, up to --cases, rendered as `pool-parity report` would, then opened.
Prints, per page: its size, the time from navigation start to the end of the load event (the
page parsed, laid out and its script run: filters ready, a deep link resolved) as the best and
median of --repeat fresh loads, and the time the matrix takes to filter and to sort. Asserts
nothing: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000")


def replicate(doc: dict[str, Any], cases: int) -> dict[str, Any]:
    """The document's cases repeated (ids suffixed -rN) until there are `cases` of them."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        by_case.setdefault(r["case_id"], []).append(r)
    out_cases, out_results = [], []
    i = 0
    while len(out_cases) < cases:
        for case in doc["cases"]:
            cid = f"{case['id']}-r{i}"
            out_cases.append({**case, "id": cid, "order": len(out_cases)})
            out_results += [{**r, "case_id": cid} for r in by_case.get(case["id"], [])]
            if len(out_cases) == cases:
                break
        i += 1
    return {**doc, "cases": out_cases, "results": out_results}


def chrome() -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='pool-parity-bench-chromium-')}")
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)


def open_seconds(driver: Any, url: str) -> float:
    """Navigation start to the end of the load event, in seconds (the browser's own clock)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get(url)
    # get() returns at readyState "complete", which can come before the load event has ended
    t = WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: d.execute_script(
        "const e = performance.getEntriesByType('navigation')[0]; return e && e.loadEventEnd > 0 && "
        "[e.startTime, e.loadEventEnd]"))
    return float(t[1] - t[0]) / 1000


def deep_link_seconds(driver: Any, url: str, target: str) -> float:
    """Wall seconds from asking for index.html#target to that result's details open on its page
    (index.html loads, finds the case's page, and that page opens the details)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: d.execute_script(
        "const e = document.getElementById(arguments[0]); return e !== null && e.open", target))
    return time.perf_counter() - t0


def matrix_seconds(driver: Any) -> tuple[float, float]:
    """(filter to one op, sort by worst |diff|) on the open index, in seconds."""
    return tuple(driver.execute_script("""
        const t0 = performance.now();
        document.getElementById('f-op').selectedIndex = 1; window.ppMatrix.apply();
        const t1 = performance.now(); window.ppMatrix.sortBy('worst'); document.body.offsetHeight;
        return [(t1 - t0) / 1000, (performance.now() - t1) / 1000];"""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path, help="a run's results.json")
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from harness.report import render_all
    from harness.results import read_results

    doc = replicate(read_results(args.results), args.cases)
    out = Path(tempfile.mkdtemp(prefix="pool-parity-bench-browser-"))
    t0 = time.perf_counter()
    render_all(doc, out)
    render = time.perf_counter() - t0
    pages = sorted(out.rglob("*.html"))
    largest = max(pages, key=lambda p: p.stat().st_size)
    index = out / "index.html"
    some = doc["results"][len(doc["results"]) // 2]
    target = f"{some['case_id']}/{some['framework']}-{some['device']}"
    print(f"report: {len(doc['cases'])} cases, {len(doc['results'])} results; rendered in {render:.2f} s "
          f"(index.html {index.stat().st_size / 1e6:.2f} MB, {len(pages) - 1} details pages, "
          f"largest {largest.stat().st_size / 1e6:.2f} MB)")
    driver = chrome()
    try:
        print(f"{'page':44}{'best s':>8}{'median s':>10}   (navigation start -> load event end, {args.repeat} loads)")
        for name, url in (("index.html", index.as_uri()), (f"largest page ({largest.name})", largest.as_uri())):
            times = [open_seconds(driver, url) for _ in range(args.repeat)]
            print(f"{name:44}{min(times):>8.2f}{statistics.median(times):>10.2f}")
        times = [deep_link_seconds(driver, f"{index.as_uri()}#{target}", target) for _ in range(args.repeat)]
        print(f"{'index.html#case/fw -> its page, open (wall)':44}{min(times):>8.2f}{statistics.median(times):>10.2f}")
        open_seconds(driver, index.as_uri())
        filt, sort = matrix_seconds(driver)
        print(f"{'matrix: filter by op / sort by worst |diff|':44}{filt:>8.3f}{sort:>10.3f}   (one run each)")
    finally:
        driver.quit()
    print(f"(files in {out}; timings from a shared machine: noisy)")


if __name__ == "__main__":
    main()
