"""The command line's arguments: `pool-parity`'s parser, its subcommands and their options (what
each command does is in cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness import adapters
from harness.diff import DEFAULT_FAIL_ON
from harness.load import Limits
from harness.spec import OPS


def _csv(choices: tuple[str, ...] | None) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(x.strip() for x in text.split(",") if x.strip())
        if not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        for item in items:
            if choices is not None and item not in choices:
                raise argparse.ArgumentTypeError(f"unknown '{item}', expected one of {', '.join(choices)}")
        return items

    return parse


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N, got '{text}'") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"need 1 <= K <= N, got {text}")
    return k, n


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_limits(parser: argparse.ArgumentParser) -> None:
    """The loader limits a real suite may need more of (README, "Case files")."""
    default = Limits()
    parser.add_argument("--max-cases", type=_positive, default=default.cases,
                        help=f"cases the whole suite may expand to (default {default.cases:,})")
    parser.add_argument("--max-matrix", type=_positive, default=default.matrix,
                        help=f"cases one matrix: may expand to (default {default.matrix:,})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pool-parity", description="Pooling parity across frameworks and deployment "
                                     "paths, checked against a float64 reference.")
    sub = parser.add_subparsers(dest="command", required=True)
    names = tuple(adapters.registry())

    run = sub.add_parser("run", help="run cases through frameworks and write a report")
    run.add_argument("paths", nargs="*", default=["cases"], help="case files or directories (default: cases/)")
    run.add_argument("--frameworks", type=_csv(names), default=adapters.DEFAULT_FRAMEWORKS,
                     help=f"comma-separated, from {', '.join(names)} (default: all of them; one that is not installed "
                          "is reported skipped)")
    run.add_argument("--devices", type=_csv(adapters.DEVICES), default=("cpu",),
                     help="cpu,gpu (default: cpu); a device a framework cannot see is reported as skipped")
    run.add_argument("--out", type=Path, default=Path("reports/latest"), help="output directory")
    run.add_argument("--seed", type=int, default=0, help="seed for cases without their own (default 0)")
    run.add_argument("--jobs", type=int, default=None,
                     help="worker processes per framework (default: cores / frameworks, at least 1, "
                          "so the workers together use every core)")
    run.add_argument("--threads", type=int, default=None,
                     help="intra-op threads per framework worker (default: 1 when the workers fill the cores, "
                          "else the framework's own default)")
    run.add_argument("--case-timeout", type=float, default=120.0, help="seconds before a worker is killed (default 120)")
    run.add_argument("--no-isolation", action="store_true", help="run adapters in-process (debugging)")
    run.add_argument("--save-arrays", action="store_true", help="also write DIR/arrays.npz")
    run.add_argument("--shard", type=_shard, help="run the K-th of N deterministic slices, e.g. 2/4")
    run.add_argument("-k", "--select", action="append", default=[], help="only case ids containing this text")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    run.add_argument("--baseline", type=Path, help="results.json or run directory to diff this run against "
                     "(the diff goes in OUT/diff/, the report marks what changed)")
    run.add_argument("--fail-on", help=f"with --baseline: changes that make the exit status 1 (default {DEFAULT_FAIL_ON})")
    _add_limits(run)

    for name, text in (("list", "print the expanded case ids"), ("validate", "check case files without running")):
        p = sub.add_parser(name, help=text)
        p.add_argument("paths", nargs="*", default=["cases"])
        _add_limits(p)

    explain = sub.add_parser("explain", help="show what each framework will do for a case")
    explain.add_argument("case_id")
    explain.add_argument("paths", nargs="*", default=["cases"])
    explain.add_argument("--frameworks", type=_csv(names), default=adapters.DEFAULT_FRAMEWORKS)
    _add_limits(explain)

    repro = sub.add_parser("repro", help="write one standalone script that reproduces a case on a framework")
    repro.add_argument("case_id")
    repro.add_argument("paths", nargs="*", default=["cases"])
    repro.add_argument("--framework", choices=names, default=None,
                       help="default: the first of the default frameworks that runs the case")
    repro.add_argument("-o", "--output", type=Path, help="write the script here (default: standard output)")
    repro.add_argument("--seed", type=int, default=0, help="the run seed the case was run with (default 0)")
    _add_limits(repro)

    report = sub.add_parser("report", help="render (and merge) results.json files into one report")
    report.add_argument("results", nargs="+", type=Path)
    report.add_argument("--out", type=Path, required=True)
    report.add_argument("--allow-version-mismatch", action="store_true")

    disc = sub.add_parser("discover", help="generate random cases, cluster, shrink and explain their divergences")
    limit = disc.add_mutually_exclusive_group()
    limit.add_argument("--budget", type=float, default=None, help="seconds of generation (default 300)")
    limit.add_argument("--configs", type=int, default=None, help="generate exactly N configurations (deterministic)")
    disc.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    disc.add_argument("--frameworks", type=_csv(names), default=("torch", "keras", "jax"),
                      help="comma-separated (default: torch,keras,jax)")
    disc.add_argument("--devices", type=_csv(adapters.DEVICES), default=("cpu",), help="cpu,gpu (default: cpu)")
    disc.add_argument("--ops", type=_csv(OPS), default=OPS, help="comma-separated ops (default: all)")
    disc.add_argument("--known", nargs="+", default=[], metavar="PATH",
                      help="case files or directories whose divergences label clusters as known (never generation)")
    disc.add_argument("--out", type=Path, default=Path("reports/discover"), help="output directory")
    disc.add_argument("--jobs", type=int, default=1, help="worker processes per framework (default 1)")
    disc.add_argument("--case-timeout", type=float, default=30.0, help="seconds before a worker is killed (default 30)")
    disc.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    findings = sub.add_parser("findings", help="list each distinct divergence found in a run, as markdown")
    findings.add_argument("results", type=Path, nargs="?", default=Path("reports/latest"),
                          help="results.json or its directory (default: reports/latest)")
    findings.add_argument("--out", type=Path, help="write here (e.g. docs/findings.md) instead of stdout")

    diff = sub.add_parser("diff", help="what changed between two runs, or two devices / frameworks of one run")
    diff.add_argument("results", nargs="+", type=Path,
                      help="OLD NEW: results.json files, run directories or merged reports (one run with --between)")
    diff.add_argument("--between", type=_csv(None), help="A,B: two devices or two frameworks of one run (A: the old side)")
    diff.add_argument("--out", type=Path, help="write diff.json, diff.md and index.html here")
    diff.add_argument("--fail-on", default=DEFAULT_FAIL_ON,
                      help=f"changes that make the exit status 1: a comma list, any, or none (default {DEFAULT_FAIL_ON})")

    matrix = sub.add_parser("matrix", help="one page of case x run (version sets), changes against the first run")
    matrix.add_argument("results", nargs="+", type=Path, help="BASELINE OTHER...: run directories or results.json")
    matrix.add_argument("--out", type=Path, required=True, help="write index.html, matrix.json and matrix.md here")
    onnx = sub.add_parser("import-onnx", help="turn the installed onnx package's pooling node tests into a case file")
    onnx.add_argument("--out", type=Path, default=Path("cases/onnx_node_tests.yaml"))
    onnx.add_argument("--data", type=Path, help="a directory of node tests (test_*pool*/model.onnx, "
                      "test_data_set_0/*.pb); default: the onnx package's own")
    return parser
