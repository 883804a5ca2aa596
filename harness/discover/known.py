"""Known: label the clusters a case library already declares (`--known PATHS`).

The library never feeds generation. After discovery, the library's cases of the clusters' ops
are run once, on the clusters' frameworks, through the same oracle. A cluster is *known* when
some library case shows the cluster's signature on that framework and has every feature of the
cluster's key (configs.features): the library holds a case of that cause. Of several such
cases the one with the fewest features beyond the key is named (then the first by id).
Whether that case declares the divergence in `expect:` is recorded beside it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.discover import configs
from harness.discover.classify import Signature, signature
from harness.discover.cluster import Cluster
from harness.discover.oracle import Oracle
from harness.spec import Case


def label(clusters: list[Cluster], library: list[Case], oracle: Oracle, frameworks: tuple[str, ...]) -> int:
    """Set cluster.known for the clusters the library has; returns the library cases run."""
    ops = {c.signature.op for c in clusters}
    fws = {c.founder.framework for c in clusters}
    runs = []
    for case in library:
        mine = tuple(f for f in (case.frameworks or frameworks) if f in fws and f in frameworks)
        if case.op in ops and mine:
            runs.append(replace(case, frameworks=mine))
    outcomes = oracle.run(runs)
    seen: list[tuple[Signature, frozenset[str], Case]] = []
    for case in runs:
        for name, answer in sorted(outcomes[case.id].answers.items()):
            sig = signature(case, name, answer)
            if sig is not None:
                seen.append((sig, configs.features(case), case))
    for cluster in clusters:
        key = cluster.key if cluster.key is not None else configs.features(cluster.case)
        matches = [(len(feats - key), case.id, case) for sig, feats, case in seen
                   if sig == cluster.signature and key <= feats]
        if matches:
            _, _, case = min(matches, key=lambda m: (m[0], m[1]))
            cluster.known = _record(case, cluster.founder.framework)
    return len(runs)


def _record(case: Case, fw: str) -> dict[str, Any]:
    exp = case.expect.get(fw)
    return {"case": case.id, "source": f"{case.source.path}:{case.source.line}", "declared": exp is not None,
            "reason": exp.reason if exp else None, "link": exp.link if exp else None}
