"""CLI: exit codes, one-line errors, and earlier results left alone on bad input."""

from __future__ import annotations

import errno
import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import LOCK_NAME, main

GOOD = "cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 1, 4], generator: {kind: arange}}\n    params: {kernel_size: 2}\n"
BAD = GOOD.replace("kernel_size: 2", "kernel_size: 0")


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_validate_ok_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path, GOOD))]) == 0
    assert "1 cases OK" in capsys.readouterr().out
    assert main(["validate", str(write(tmp_path, BAD, "bad.yaml"))]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("bad.yaml:5: case 'a': params.kernel_size: must be >= 1, got 0")


def test_list_prints_expanded_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("params: {kernel_size: 2}", "matrix: {kernel_size: [1, 2]}"))
    assert main(["list", str(path)]) == 0
    assert capsys.readouterr().out.split() == ["a-k1", "a-k2"]


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    with pytest.raises(SystemExit) as info:
        main(["run", "--frameworks", "tensorflow"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["run", "--shard", "3/2"])
    assert info.value.code == 2
    good = str(write(tmp_path, GOOD))
    assert main(["run", good, "--case-timeout", "0"]) == 2
    afile = write(tmp_path, "", "not-a-dir")
    assert main(["run", good, "--out", str(afile), "-q"]) == 2 and afile.read_text() == ""
    assert main(["validate", "/dev/null"]) == 2
    errors = capsys.readouterr().err.splitlines()[-3:]
    assert ["--case-timeout must be > 0" in errors[0], "cannot write results there" in errors[1],
            "not a case file" in errors[2]] == [True] * 3, errors


def test_bad_input_never_destroys_earlier_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, GOOD)), "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 0
    before = (out / "results.json").read_text()
    assert main(["run", str(write(tmp_path, BAD, "bad.yaml")), "--frameworks", "torch", "--out", str(out), "-q"]) == 2
    assert (out / "results.json").read_text() == before


def test_a_directory_another_command_is_writing_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs into one --out would truncate each other's results.jsonl mid-run: the second is
    refused in one line, the first one's files untouched, and the directory is free again after."""
    out = tmp_path / "out"
    good = str(write(tmp_path, GOOD))
    assert main(["run", good, "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LOCK_NAME}
    with open(out / LOCK_NAME, "w") as held:  # as a run in another process holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        capsys.readouterr()
        assert main(["run", good, "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 2
        assert main(["report", str(out), "--out", str(out)]) == 2
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 2 and all(str(out) in line and "pid 4242" in line for line in lines), lines
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != LOCK_NAME} == before
    assert main(["run", good, "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 0


def test_a_filesystem_without_locks_still_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.cli

    def no_locks(fd: object, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(harness.cli.fcntl, "flock", no_locks)
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, GOOD)), "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 0
    assert json.loads((out / "results.json").read_text())["meta"]["complete"] is True


def test_report_refuses_an_incomplete_results_file_in_one_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, GOOD)), "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 0
    doc = json.loads((out / "results.json").read_text())
    del doc["results"][0]["verdict"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["report", str(broken), "--out", str(tmp_path / "merged")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert str(broken) in line and "results[0]" in line and "'verdict'" in line


def test_run_writes_results_html_and_junit(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "out"
    assert main(["run", "cases/seeds.yaml", "--frameworks", "torch", "--out", str(out), "-q", "--jobs", "1"]) == 0
    doc = json.loads((out / "results.json").read_text())
    meta = doc["meta"]
    assert meta["frameworks"]["torch"]["versions"]["torch"].startswith("2.13.0")
    assert meta["seed"] == 0 and meta["environment"]["machine"] and meta["complete"] is True
    assert {r["verdict"] for r in doc["results"]} == {"pass"}
    assert (out / "index.html").read_text().count("seed-D3-avg-ceil-cip") >= 2
    assert (out / "junit.xml").exists()


def test_explain_shows_calls_and_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "seed-D3-avg-ceil-cip", "cases", "--frameworks", "torch"]) == 0
    text = capsys.readouterr().out
    assert "torch: native" in text and "avg_pool2d" in text
    assert "out = ceil((4+1+1-3)/2)+1 -> 3" in text
    assert main(["explain", "no-such-case", "cases"]) == 2


def test_console_script_module_entry() -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "validate", "cases"], capture_output=True, text=True)
    assert proc.returncode == 0 and "cases OK" in proc.stdout


def test_a_reader_that_stops_early_ends_the_listing_quietly(tmp_path: Path) -> None:
    """`pool-parity list | head -1`: exit like a writer whose pipe closed, no traceback. (The
    listing, 12,000 ids, is larger than a pipe holds, so the writer is still writing when the
    reader goes.)"""
    grid = GOOD.replace("params: {kernel_size: 2}", "params: {kernel_size: 1}\n    matrix: {stride: "
                        f"{list(range(1, 201))}, dilation: {list(range(1, 61))}}}")
    path = write(tmp_path, grid.replace("shape: [1, 1, 4]", "shape: [1, 1, 400]"))
    proc = subprocess.Popen([sys.executable, "-m", "harness", "list", str(path), "--max-matrix", "12000"],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None and proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141 and b"Traceback" not in err, err.decode()
