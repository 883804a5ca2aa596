"""Cluster: one per cause. The rule (docs/discover.md):

1. A confirmed divergence (an Example) has a signature (classify.Signature) and the features
   of its configuration (configs.features).
2. The first example of a signature is shrunk (shrink.Shrinker) to a 1-minimal case; the
   features that case keeps are the cluster's key. Cluster = (signature, key). Two shrinks of
   one signature that end with the same key are merged into one cluster.
3. A later example of that signature whose features include a cluster's key is *projected*
   onto it: every feature it has beyond the key is set to its default (dims dropped, dtype to
   the key's or float32, gradient off, the flags and padding to defaults, other special values
   removed, magnitude to 1) and the projection is run once. If it keeps the signature, the
   example belongs to the smallest such cluster (its extra features are not needed); if not,
   it is shrunk in its turn and makes a new cluster (or merges by key).
4. (signature, features) pairs already decided are remembered, so an example like one seen
   before costs nothing more. Examples of one signature are decided in the order they were
   found, one shrink of a signature at a time, so the clusters are the same for a seed and a
   config count however fast the workers answer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from harness.discover import configs
from harness.discover.classify import Signature
from harness.discover.configs import Raw
from harness.discover.oracle import Answer
from harness.discover.shrink import Shrinker
from harness.spec import Case


@dataclass
class Example:
    """A confirmed divergence of a generated configuration."""

    raw: Raw
    case: Case
    signature: Signature
    answer: Answer
    index: int  # the configuration's number in the stream (1-based)
    seconds: float  # when it was found, since discovery started
    framework: str
    device: str
    projected: bool = False  # tried against the clusters already (and none explained it)
    pending: bool = False  # a projection of it is being run

    @property
    def features(self) -> frozenset[str]:
        return configs.features(self.case)


@dataclass
class Cluster:
    id: str
    signature: Signature
    founder: Example
    shrinker: Shrinker
    state: str = "shrinking"  # shrinking -> explaining -> done
    key: frozenset[str] | None = None
    examples: int = 1
    first_hit: int = 0
    first_seconds: float = 0.0
    explanation: dict[str, Any] = field(default_factory=dict)
    tried: list[tuple[str, str, bool]] = field(default_factory=list)
    confirm: dict[str, Answer] = field(default_factory=dict)  # the minimal case on every framework
    confirm_signatures: dict[str, Signature | None] = field(default_factory=dict)
    known: dict[str, Any] | None = None

    @property
    def raw(self) -> Raw:
        return self.shrinker.raw

    @property
    def case(self) -> Case:
        return self.shrinker.case


def project(example: Example, key: frozenset[str]) -> Raw | None:
    """The example with every feature beyond `key` set to its default (None: impossible)."""
    return configs.reset(example.raw, example.case, key)


class Clusters:
    """Every cluster, and the examples waiting to be placed in one."""

    def __init__(self) -> None:
        self.all: list[Cluster] = []
        self.memo: dict[tuple[Signature, frozenset[str]], Cluster] = {}
        self.waiting: dict[Signature, deque[Example]] = {}
        self.busy: set[Signature] = set()  # signatures with a shrink in progress

    def found(self, example: Example) -> None:
        self.waiting.setdefault(example.signature, deque()).append(example)

    def placed(self, example: Example, cluster: Cluster) -> None:
        cluster.examples += 1
        if example.index < cluster.first_hit:
            cluster.first_hit, cluster.first_seconds = example.index, example.seconds
        self.memo[(example.signature, example.features)] = cluster

    def candidates(self, example: Example) -> list[Cluster]:
        """Clusters of the example's signature whose key its features include, smallest first."""
        feats = example.features
        found = [c for c in self.all if c.signature == example.signature and c.key is not None and c.key <= feats]
        return sorted(found, key=lambda c: (len(c.key or ()), c.id))

    def shrunk(self, cluster: Cluster) -> Cluster | list[Cluster]:
        """A cluster's shrink ended: its key is set. Returns the cluster it merged into (one of
        the same signature and key), else the clusters of its signature with a smaller key,
        onto which its minimal case is to be projected before it is accepted."""
        cluster.key = configs.features(cluster.case)
        same = self.memo.get((cluster.signature, cluster.key))
        if same is not None and same is not cluster and same in self.all and same.key == cluster.key:
            self.merge(cluster, same)
            return same
        return [c for c in self.all if c is not cluster and c.signature == cluster.signature and c.key is not None
                and c.key < cluster.key]

    def merge(self, cluster: Cluster, into: Cluster) -> None:
        """One cause found twice: `cluster`'s examples go to `into`."""
        into.examples += cluster.examples
        if cluster.first_hit < into.first_hit:
            into.first_hit, into.first_seconds = cluster.first_hit, cluster.first_seconds
        self.all.remove(cluster)
        self.memo[(cluster.signature, cluster.founder.features)] = into
        self.busy.discard(cluster.signature)

    def accept(self, cluster: Cluster) -> None:
        """A new cause: remembered by its key and its founder's features; explained next."""
        assert cluster.key is not None
        self.memo[(cluster.signature, cluster.key)] = cluster
        self.memo[(cluster.signature, cluster.founder.features)] = cluster
        self.busy.discard(cluster.signature)
        cluster.state = "explaining"
