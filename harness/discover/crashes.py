"""Crashes: keeping configurations that would crash a worker away from it.

A worker crash (or hang) costs a worker restart: TensorFlow's import takes seconds. While a
crash of an op on a framework is being confirmed, shrunk and explained, generated
configurations of that op are not sent to that framework and other clusters' follow-ups of that
op there wait. Once its cluster is explained, a configuration that *matches* it (has its key
and the values of its pinned flags and window parameters) is not sent to that framework, and no
follow-up that matches it is run.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.discover import configs, explain
from harness.discover.cluster import Cluster, Example
from harness.spec import Case


def matches(cluster: Cluster, case: Case) -> bool:
    """The case has the cluster's key and every pinned flag or window parameter's value."""
    if case.op != cluster.signature.op or not (cluster.key or frozenset()) <= configs.features(case):
        return False
    mine = explain.current(case)
    for name, value in cluster.explanation.get("pinned", {}).items():
        base = name.split("[")[0]
        if base in ("dims", "N", "C", "length") or base.startswith("input."):
            continue
        values = [v for k, v in mine.items() if k.split("[")[0] == base]
        if not values or any(v != value for v in values):
            return False
    return True


def pending(clusters: Iterable[Cluster], examples: Iterable[Example], fw: str, op: str) -> bool:
    """A crash of op on fw not yet explained: an example being re-run or waiting, or a cluster
    being shrunk or explained."""
    return (any(e.signature.crash and e.framework == fw and e.case.op == op for e in examples)
            or any(c.signature.crash and c.state != "done" and c.founder.framework == fw and c.signature.op == op
                   for c in clusters))


def explained(clusters: Iterable[Cluster], fw: str, case: Case, besides: Cluster | None = None) -> bool:
    """The case matches an explained crash cluster on fw (other than `besides`)."""
    return any(c is not besides and c.signature.crash and c.state == "done" and c.founder.framework == fw
               and matches(c, case) for c in clusters)
