"""pytest plugin: `pytest --pool-parity cases/` (or any `cases/` directory) collects every case
and framework as an item, e.g. `cases/seeds.yaml::seed-D3-avg-ceil-cip[jax-cpu]`, so -k, -x,
--lf, xdist and --junitxml work as usual. Imports no framework at load time: each framework
runs in one worker process per pytest process, started at its first item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import adapters, compare, expectations, reference
from harness.adapters.base import NotInstalled
from harness.inputs import make_input, make_upstream
from harness.spec import ACCEPTABLE, Case


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pool-parity")
    group.addoption("--pool-parity", action="store_true", help="collect pool-parity case files (*.yaml)")
    group.addoption("--pp-frameworks", default=",".join(adapters.DEFAULT_FRAMEWORKS),
                    help="frameworks to run (default: every built-in adapter)")
    group.addoption("--pp-devices", default="cpu", help="devices to run (default: cpu)")
    group.addoption("--pp-timeout", type=float, default=120.0, help="seconds per case before the worker is killed")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if parent.config.getoption("--pool-parity") or file_path.parent.name == "cases":
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self) -> Any:
        from harness.load import read_file
        from harness.normalise import normalise

        cases = normalise(read_file(self.path))  # CaseErrors surface as a collection error
        frameworks = self.config.getoption("--pp-frameworks").split(",")
        devices = self.config.getoption("--pp-devices").split(",")
        for case in cases:
            for fw in frameworks:
                if case.frameworks is not None and fw not in case.frameworks:
                    continue
                for dev in devices:
                    if case.devices is None or dev in case.devices:
                        yield CaseItem.from_parent(self, name=f"{case.id}[{fw}-{dev}]", case=case, framework=fw, device=dev)


class _Workers:
    """One worker per framework for this pytest process."""

    def __init__(self) -> None:
        self.workers: dict[str, Any] = {}
        self.probes: dict[str, Any] = {}

    def get(self, fw: str) -> tuple[Any, Any]:
        if fw not in self.workers:
            from harness.pool import Worker

            self.workers[fw] = Worker(adapters.get(fw), isolated=True)
            self.probes[fw] = self.workers[fw].ready()
        return self.workers[fw], self.probes[fw]

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop()


_WORKERS = _Workers()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _WORKERS.stop()


class DivergenceFailure(Exception):
    """A disagreement with the reference; its text is the report's diff summary."""


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, framework: str, device: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case, self.framework, self.device = case, framework, device
        for tag in case.tags:
            name = tag.replace("-", "_")
            self.config.addinivalue_line("markers", f"{name}: pool-parity case tag")
            self.add_marker(name)

    def runtest(self) -> None:
        case, spec = self.case, adapters.get(self.framework)
        plan = adapters.load(spec).plan(case, spec.backend)
        if not plan.supported:
            pytest.skip(f"unsupported: {plan.reason}")
        worker, probe = _WORKERS.get(self.framework)
        if isinstance(probe, NotInstalled):
            pytest.skip(f"{self.framework} is not installed here ({probe})")
        if isinstance(probe, str):
            raise DivergenceFailure(f"error: {self.framework} could not start: {probe}")
        if self.device not in probe.devices:
            pytest.skip(f"no {self.device} device visible to {self.framework}")
        x = make_input(case.input)
        upstream = make_upstream(case, reference.output_shape(case)) if case.grad else None
        ref = reference.compute(case, x, upstream)
        outcome, error = worker.call(case, plan, x, self.device, upstream, self.config.getoption("--pp-timeout"))
        if error is not None:
            verdict, detail = "error", error
        else:
            result = compare.compare(case, ref, outcome)
            verdict, detail = result["verdict"], result["reason"]
        final, note = expectations.apply(verdict, case.expect.get(self.framework), self.device)
        if final == "known_divergence":
            pytest.xfail(f"known divergence: {note}")
        if final not in ACCEPTABLE:
            raise DivergenceFailure(f"{final}: {note + ': ' if note and final != verdict else ''}{detail}\n"
                                    f"mode {plan.mode}; call: {plan.call}\n"
                                    + "\n".join(f"  conversion: {c}" for c in plan.conversions()))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DivergenceFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.source.line - 1, f"{self.case.id}[{self.framework}-{self.device}]"
