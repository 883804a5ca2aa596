"""`pool-parity run | list | validate | explain | report | findings | diff | matrix`: builds a RunConfig, calls the stages
in order, and maps bad input to one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import adapters
from harness.baseline import Baseline
from harness.baseline import apply as apply_baseline
from harness.baseline import load as load_baseline
from harness.cases import load_cases
from harness.cli_args import build_parser
from harness.config import RunConfig, default_jobs, default_threads, threads_code
from harness.errors import CaseErrors, HarnessError
from harness.load import Limits
from harness.spec import ACCEPTABLE, Case

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a writer stopped by SIGPIPE


def _load(args: argparse.Namespace, seed: int = 0) -> list[Case]:
    return load_cases(args.paths, seed, Limits(cases=args.max_cases, matrix=args.max_matrix))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": cmd_run, "list": cmd_list, "validate": cmd_validate, "explain": cmd_explain,
                "repro": cmd_repro, "report": cmd_report, "findings": cmd_findings, "diff": cmd_diff,
                "matrix": cmd_matrix, "import-onnx": cmd_import_onnx, "discover": cmd_discover}[args.command](args)
    except CaseErrors as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        print(f"{len(exc.errors)} problem(s) found", file=sys.stderr)
        return EXIT_USAGE
    except HarnessError as exc:
        print(f"pool-parity: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`pool-parity list | head`): stop quietly, like a pipe's writer
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return EXIT_BROKEN_PIPE


def cmd_list(args: argparse.Namespace) -> int:
    for case in _load(args):
        print(case.id)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    cases = _load(args)
    print(f"{len(cases)} cases OK")
    return EXIT_OK


def _select(cases: list[Case], select: list[str]) -> list[Case]:
    return [c for c in cases if not select or any(s in c.id for s in select)]


LOCK_NAME = ".pool-parity.lock"


@contextlib.contextmanager
def _output_dir(out: Path) -> Iterator[None]:
    """Create `out` and hold it for this command: a second run or report into the same directory
    would truncate this one's files under it, so it is refused instead."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - held for the whole command
    except OSError as exc:
        raise HarnessError(f"--out {out}: cannot write results there: {exc.strerror}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):  # a filesystem without locks: go on unguarded
                yield
                return
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise HarnessError(f"--out {out}: another pool-parity command (pid {holder}) is writing there; "
                               "wait for it or give this one its own --out") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield  # the lock goes with the file's close


def cmd_run(args: argparse.Namespace) -> int:
    from harness.run import select_shard

    if args.jobs is None:
        args.jobs = max(1, default_jobs() // len(args.frameworks))
    if args.jobs < 1:
        raise HarnessError(f"--jobs must be >= 1, got {args.jobs}")
    if args.threads is not None and args.threads < 1:
        raise HarnessError(f"--threads must be >= 1, got {args.threads}")
    if not args.case_timeout > 0:
        raise HarnessError(f"--case-timeout must be > 0 seconds, got {args.case_timeout:g}")
    threads = args.threads if args.threads is not None else default_threads(args.jobs * len(args.frameworks))
    baseline = load_baseline(args.baseline, args.fail_on)  # a bad one is refused before anything runs
    load_started = time.process_time()
    loaded = _load(args, args.seed)
    cases, orders = select_shard(_select(loaded, args.select), args.shard)
    load_seconds = time.process_time() - load_started
    if not cases:
        raise HarnessError("no cases selected")
    if baseline is not None:  # cases this run left out (-k, --shard) are not "removed" from the baseline
        baseline.drop = {c.id for c in loaded} - {c.id for c in cases}
    config = RunConfig(paths=tuple(args.paths), frameworks=args.frameworks, devices=args.devices, out=args.out,
                       seed=args.seed, jobs=args.jobs, case_timeout=args.case_timeout,
                       isolation=not args.no_isolation, save_arrays=args.save_arrays, shard=args.shard, threads=threads,
                       progress=not args.quiet)
    with _output_dir(config.out):
        return _run(config, cases, orders, load_seconds, baseline)


def _run(config: RunConfig, cases: list[Case], orders: list[int], load_seconds: float,
         baseline: Baseline | None = None) -> int:
    from harness.report import render_all
    from harness.results import ResultWriter
    from harness.run import Runner

    writer = ResultWriter(config.out, config.save_arrays)
    show = ProgressLine(enabled=config.progress)
    runner = Runner(cases, config, writer, on_progress=show, orders=orders)
    started = time.time()
    interrupted = finished = False
    try:
        show.say(f"starting {', '.join(config.frameworks)} workers ...")
        runner.start_workers()
        runner.run()
        finished = True
    except KeyboardInterrupt:
        interrupted = True
    finally:  # whatever stopped the run, what it did is written (complete only if it ran to the end)
        runner.stop_workers()
        show.close()
        meta = runner.meta()
        meta["timings"] = {"load": load_seconds, **meta["timings"]}
        meta.update(started=started, duration=time.time() - started, complete=finished)
        stored = writer.close(meta)
    marks: dict[str, Any] | None = None
    hits: dict[str, int] = {}
    told = ""
    if baseline is not None and finished:  # an interrupted run would show its missing cases as removed
        marks, hits, told = apply_baseline(baseline, config.out, config.frameworks, config.devices)
    summary = render_all(stored, config.out, marks)
    print_summary(summary, config.out)
    if told:
        print(told)
    if interrupted:
        print("interrupted: results so far are in the report, marked incomplete"
              + ("; no diff against the baseline" if baseline else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if not summary["failing_count"] and not hits else EXIT_DISAGREE


class ProgressLine:
    """Cases done / total and failures so far, on one line (a line per 10% when not a TTY)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.step = 0

    def say(self, text: str, end: str = "\n") -> None:
        if self.enabled:
            try:
                print(text, end=end, file=sys.stderr, flush=True)
            except OSError:  # stderr closed (piped into head, say): the run goes on without progress
                self.enabled = False

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        line = f"[{p.done}/{p.total} cases] {p.failing} failing, {p.elapsed:.1f}s"
        if self.tty:
            now = time.time()
            if now - self.last > 0.1 or p.done == p.total:
                self.say("\r" + line, end="")
                self.last = now
        elif p.done * 10 // p.total > self.step or p.done == p.total:
            self.step = p.done * 10 // p.total
            self.say(line)

    def close(self) -> None:
        if self.tty:
            self.say("")


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """Closing table: verdict counts per framework/device, then the first failures."""
    table = summary["table"]
    verdicts = sorted({v for row in table.values() for v in row})
    width = max([len(k) for k in table] + [9])
    print(f"{'framework':<{width}}  " + "  ".join(verdicts))
    for name, row in sorted(table.items()):
        print(f"{name:<{width}}  " + "  ".join(f"{row.get(v, 0):>{len(v)}}" for v in verdicts))
    for r in summary["failing"]:
        print(f"FAIL {r['case_id']} [{r['framework']}-{r['device']}] {r['verdict']}: {r['reason']}")
    if summary["failing_count"] > len(summary["failing"]):
        print(f"... and {summary['failing_count'] - len(summary['failing'])} more failures")
    print(f"{summary['case_count']} cases, {summary['result_count']} results in "
          f"{summary['meta'].get('duration', 0):.1f}s; report: {out / 'index.html'}")


def cmd_explain(args: argparse.Namespace) -> int:
    from harness.explain import explain

    print(explain(_find(args), args.frameworks))
    return EXIT_OK


def _find(args: argparse.Namespace, seed: int = 0) -> Case:
    cases = [c for c in _load(args, seed) if c.id == args.case_id]
    if not cases:
        raise HarnessError(f"no case with id '{args.case_id}' under {' '.join(args.paths)}")
    return cases[0]


def cmd_repro(args: argparse.Namespace) -> int:
    """The script the report offers, with the float64 reference embedded whatever its size."""
    from harness import compare, reference
    from harness.inputs import make_input
    from harness.repro import input_code, reference_code, script

    case = _find(args, args.seed)
    names = [args.framework] if args.framework else [f for f in adapters.DEFAULT_FRAMEWORKS
                                                     if case.frameworks is None or f in case.frameworks]
    reasons = []
    for name in names:
        spec = adapters.get(name)
        module = adapters.load(spec)
        plan = module.plan(case, spec.backend)
        if plan.supported:
            break
        reasons.append(f"{name}: {plan.reason}")
    else:
        raise HarnessError(f"case '{case.id}' does not run on {' or '.join(names)} ({'; '.join(reasons)})")
    x = make_input(case.input)
    ref = reference.compute(case, x)
    # One thread per worker is what a run gives its workers once they fill the cores (the default).
    text = script(case.id, name, "cpu", input_code(case, x), threads_code(1) + module.repro(case, plan),
                  reference_code(ref.output, ref.indices, limit=None), compare.tolerance(case))
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"-o {args.output}: cannot write: {exc.strerror}") from None
        print(f"wrote {args.output} ({name}, {plan.mode})", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report import render_all
    from harness.results import merge, read_results, write_json

    doc = merge([read_results(p) for p in args.results], allow_mismatch=args.allow_version_mismatch)
    with _output_dir(args.out):
        write_json(args.out / "results.json", doc)
        print_summary(render_all(doc, args.out), args.out)
    return EXIT_OK if all(r["verdict"] in ACCEPTABLE for r in doc["results"]) else EXIT_DISAGREE


def cmd_findings(args: argparse.Namespace) -> int:
    from harness.findings import render_markdown
    from harness.results import read_results

    text = render_markdown(read_results(args.results))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return EXIT_OK


def cmd_discover(args: argparse.Namespace) -> int:
    from harness.discover import run_discovery
    from harness.discover.driver import Options

    if args.budget is not None and not args.budget > 0:
        raise HarnessError(f"--budget must be > 0 seconds, got {args.budget:g}")
    if args.configs is not None and args.configs < 1:
        raise HarnessError(f"--configs must be >= 1, got {args.configs}")
    if args.jobs < 1:
        raise HarnessError(f"--jobs must be >= 1, got {args.jobs}")
    if not args.case_timeout > 0:
        raise HarnessError(f"--case-timeout must be > 0 seconds, got {args.case_timeout:g}")
    library = load_cases(args.known) if args.known else []  # bad known files: exit 2 before any work
    budget = args.budget if args.budget is not None else (None if args.configs is not None else 300.0)
    opts = Options(seed=args.seed, budget=budget, configs=args.configs, frameworks=args.frameworks,
                   devices=args.devices, ops=args.ops, known=tuple(args.known), out=args.out, progress=not args.quiet)
    config = RunConfig(frameworks=args.frameworks, devices=args.devices, out=args.out, seed=args.seed, jobs=args.jobs,
                       case_timeout=args.case_timeout, threads=default_threads(args.jobs * len(args.frameworks)),
                       progress=False)
    with _output_dir(config.out):
        return run_discovery(opts, config, library)


def cmd_diff(args: argparse.Namespace) -> int:
    from harness.diff import compare_runs, failures, parse_fail_on, read_sides
    from harness.report.diff import summary_text, write_diff

    rules = parse_fail_on(args.fail_on)
    old, new, cut, names = read_sides(args.results, args.between)
    diff = compare_runs(old, new, cut, names)
    hits = failures(diff, rules)
    if args.out:
        with _output_dir(_not_a_run(args.out)):
            write_diff(diff, args.out, hits, args.fail_on)
    print(summary_text(diff, hits, args.fail_on, args.out))
    return EXIT_DISAGREE if hits else EXIT_OK


def cmd_matrix(args: argparse.Namespace) -> int:
    from harness.report.matrix import read_runs, write_matrix

    runs = read_runs(args.results)
    with _output_dir(_not_a_run(args.out)):
        print(write_matrix(runs, args.out))
    return EXIT_OK


def _not_a_run(out: Path) -> Path:
    """A diff or matrix page written into a run's directory would replace that run's index.html."""
    if (out / "results.json").is_file():
        raise HarnessError(f"--out {out} holds a run's results and report; give this its own directory "
                           f"(e.g. {out / 'diff'})")
    return out


if __name__ == "__main__":
    sys.exit(main())


def cmd_import_onnx(args: argparse.Namespace) -> int:
    from harness import onnx_import

    if args.data is not None and not args.data.is_dir():
        raise HarnessError(f"--data {args.data}: not a directory")
    try:
        from harness.adapters import onnx_node_tests
    except ImportError as exc:  # pragma: no cover - onnx is in the frameworks extra
        raise HarnessError(f"import-onnx needs the onnx package ({exc})") from None
    try:
        tests = onnx_node_tests.read(args.data)
    except ModuleNotFoundError as exc:
        raise HarnessError(f"import-onnx needs the onnx package: {exc}") from None
    if not tests:
        raise HarnessError(f"no pooling node tests found in {args.data or 'the onnx package'}")
    written, skipped = onnx_import.write(tests, args.out, onnx_node_tests.onnx_version())
    print(f"{args.out}: {written} cases from {len(tests)} ONNX node tests; {len(skipped)} not expressed (listed at its top)")
    return EXIT_OK
