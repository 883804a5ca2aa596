"""Driver: discovery's loop, in rounds over one Oracle (Runner) session.

Each round runs, as one batch: the re-runs of last round's divergences, projections of
examples onto clusters, the next candidates of every shrink, the explanation variants (and
the all-framework confirmation run) of every shrunk case, and up to `batch` new generated
configurations. Results are handled in the order the cases were submitted, so what is found
depends only on the seed, the config count and the answers, not on worker timing.

Generation stops after two thirds of the budget (or at the config count); the follow-ups then
have the rest of it, and a grace period (grace()), to finish: what is unfinished then is written
as it stands.
Configurations that would crash a worker are kept from it (crashes.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.discover import configs, crashes, explain
from harness.discover.classify import Signature, signature
from harness.discover.cluster import Cluster, Clusters, Example, project
from harness.discover.configs import Raw
from harness.discover.generate import ConfigStream
from harness.discover.oracle import Oracle, Outcome
from harness.discover.shrink import MAX_CHUNK, Shrinker
from harness.spec import OPS, Case

CRASH_SHRINK_CAP = 24  # each candidate that keeps a crash signature costs a worker restart
CRASH_VARIANTS = 12
FOLLOW_UPS = 96  # shrink and explanation cases a round, while generating


GENERATION_SHARE = 2 / 3  # of a budget: generation; the rest (and the grace) finishes the clusters


def grace(budget: float) -> float:
    """Seconds past the budget the follow-ups may still run (then what is unfinished is written)."""
    return max(15.0, 0.1 * budget)


@dataclass(frozen=True)
class Options:
    seed: int = 0
    budget: float | None = 300.0
    configs: int | None = None
    frameworks: tuple[str, ...] = ("torch", "keras", "jax")
    devices: tuple[str, ...] = ("cpu",)
    ops: tuple[str, ...] = OPS
    known: tuple[str, ...] = ()
    out: Path = Path("reports/discover")
    batch: int = 64
    shrink_cap: int = 100
    progress: bool = True


Job = tuple[list[Case], Callable[[list[Outcome]], None]]


@dataclass
class Discovery:
    opts: Options
    oracle: Oracle
    stream: ConfigStream = field(init=False)
    clusters: Clusters = field(default_factory=Clusters)
    reruns: list[Example] = field(default_factory=list)
    flaky: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)  # cases run, by purpose
    avoided: dict[str, int] = field(default_factory=dict)  # framework: configurations not sent to it
    sent: dict[str, int] = field(default_factory=dict)  # framework: generated configurations sent to it
    progress_log: list[dict[str, float]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # generate, oracle, bookkeeping
    complete: bool = False
    interrupt: bool = False  # set by the SIGINT handler (see harness.discover.run_discovery)
    loop_seconds: float | None = None  # how long discovery itself took (without --known's run)
    _ids: int = 0
    _started: float = field(default_factory=time.perf_counter)
    _rerunning: list[Example] = field(default_factory=list)
    _clusters_made: int = 0
    _rounds: int = 0
    _held: list[tuple[Raw, Case]] = field(default_factory=list)  # generated, waiting for their signature's first run
    _signatures: set[tuple[Any, ...]] = field(default_factory=set)  # generated signatures run so far
    _raws: dict[str, Raw] = field(default_factory=dict)  # this round's follow-up cases, by id
    _shown: float = 0.0

    def __post_init__(self) -> None:
        self.stream = ConfigStream(self.opts.seed, self.opts.ops)

    # ------------------------------------------------------------ the loop

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def generating(self) -> bool:
        if self.opts.configs is not None:
            return self.stream.count < self.opts.configs
        return self.elapsed() < (self.opts.budget or 0.0) * GENERATION_SHARE

    def past_deadline(self) -> bool:
        budget = self.opts.budget
        return self.opts.configs is None and budget is not None and self.elapsed() > budget + grace(budget)

    def run(self) -> None:
        """Rounds until nothing is left to do (or the deadline); KeyboardInterrupt propagates."""
        while not self.past_deadline():
            if self.interrupt:
                raise KeyboardInterrupt
            started = time.perf_counter()
            jobs = self._follow_ups()
            if self.generating() or self._held:
                jobs.append(self._generated())
            self._charge("bookkeeping", started)
            if not any(cases for cases, _ in jobs):
                self.complete = not self.generating()
                if self.complete:
                    break
                continue
            self._round(jobs)
            self._progress()
        self.loop_seconds = self.elapsed()
        self._progress(final=True)

    def _round(self, jobs: list[Job]) -> None:
        cases = [c for batch, _ in jobs for c in batch]
        started = time.perf_counter()
        outcomes = self.oracle.run(cases)
        self._charge("oracle", started)
        started = time.perf_counter()
        for batch, done in jobs:
            done([outcomes[c.id] for c in batch])
        self._crashes(cases, outcomes)
        self._raws = {}
        self._charge("bookkeeping", started)

    def _charge(self, what: str, started: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - started

    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:06d}"

    def _case(self, raw: Raw, prefix: str, purpose: str, **fields: Any) -> Case:
        """A follow-up copy of raw, with a fresh id (and frameworks / devices if given)."""
        raw["id"] = self._id(prefix)
        for key, value in fields.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        self.runs[purpose] = self.runs.get(purpose, 0) + 1
        case = configs.build(raw)
        self._raws[case.id] = raw
        return case

    # ------------------------------------------------------------ generation and re-runs

    def _generated(self) -> Job:
        """The next generated configurations: last round's held-back ones, then new ones. Of the
        inputs of a signature not run before, the first goes alone, the others a round later
        (a signature that crashes a worker then crashes it once, not once per input)."""
        started = time.perf_counter()
        want = self.opts.batch if self.generating() else 0
        if self.opts.configs is not None:
            want = min(want, self.opts.configs - self.stream.count)
        taken, self._held = self._held + self.stream.take(max(0, want - len(self._held))), []
        first: set[tuple[Any, ...]] = set()
        ready = []
        for raw, case in taken:
            sig = (case.op, case.params, case.input.shape, case.input.dtype, case.grad)
            if sig in self._signatures:
                ready.append((raw, case))
            elif sig in first:
                self._held.append((raw, case))
            else:
                first.add(sig)
                ready.append((raw, case))
        self._signatures |= first
        items = []
        for raw, case in ready:
            fws = tuple(fw for fw in self.opts.frameworks if not self._avoid(fw, case))
            for fw in set(self.opts.frameworks) - set(fws):
                self.avoided[fw] = self.avoided.get(fw, 0) + 1
            if not fws:
                continue
            for fw in fws:
                self.sent[fw] = self.sent.get(fw, 0) + 1
            if len(fws) < len(self.opts.frameworks):
                raw["frameworks"] = list(fws)
                case = replace(case, frameworks=fws)
            items.append((raw, case))
        self.runs["generated"] = self.runs.get("generated", 0) + len(items)
        self._charge("generate", started)

        def done(outcomes: list[Outcome]) -> None:
            now = self.elapsed()
            for (raw, case), outcome in zip(items, outcomes):
                for name, answer in sorted(outcome.answers.items()):
                    sig = signature(case, name, answer)
                    if sig is None:
                        continue
                    rec = answer.record
                    example = Example(raw, case, sig, answer, int(case.id[1:]), now, rec["framework"], rec["device"])
                    known = self.clusters.memo.get((sig, example.features))
                    if sig.crash and known is not None and known in self.clusters.all:
                        self.clusters.placed(example, known)  # a crash like one confirmed: its re-run would cost a restart
                        continue
                    self.reruns.append(example)

        return [c for _, c in items], done

    def _rerun_job(self) -> Job:
        examples, self.reruns = self.reruns, []
        self._rerunning = examples
        cases = [self._case(configs.clone(e.raw), "r", "rerun", frameworks=[e.framework], devices=[e.device])
                 for e in examples]

        def done(outcomes: list[Outcome]) -> None:
            self._rerunning = []
            for e, outcome in zip(examples, outcomes):
                answer = outcome.answers.get(e.signature.framework)
                again = signature(outcome.case, e.signature.framework, answer) if answer else None
                if again == e.signature:
                    self.clusters.found(e)
                    continue
                self.flaky.append({"config": e.case.id, "framework": e.signature.framework,
                                   "first": e.signature.text(), "rerun": again.text() if again else "no divergence"})

        return cases, done

    # ------------------------------------------------------------ clusters

    def _follow_ups(self) -> list[Job]:
        jobs: list[Job] = []
        if self.reruns:
            jobs.append(self._rerun_job())
        for sig in sorted(self.clusters.waiting):
            jobs += self._place(sig)
        # Shrinks and explanations share FOLLOW_UPS cases a round while generation goes on,
        # clusters taken in turn from a rotating start: a cluster on a slow framework (a compile
        # per candidate) does not hold back the others, nor the generation. A fixed count, not
        # time, so the result stays the same for a seed and a config count.
        room = FOLLOW_UPS if self.generating() else None
        self._rounds += 1
        order = list(self.clusters.all)
        start = self._rounds % len(order) if order else 0
        for cluster in order[start:] + order[:start]:
            if self._paused(cluster) or (room is not None and room <= 0):
                continue
            before = len(jobs)
            if cluster.state == "shrinking":
                job = self._shrink_job(cluster)
                if job is not None:
                    jobs.append(job)
            if cluster.state == "explaining" and not cluster.tried and not cluster.confirm:
                jobs.append(self._explain_job(cluster))
            if room is not None:
                room -= sum(len(cases) for cases, _ in jobs[before:])
        return jobs

    def _place(self, sig: Signature) -> list[Job]:
        """Decide the waiting examples of one signature, in the order they were found."""
        queue, clusters = self.clusters.waiting[sig], self.clusters
        while queue and sig not in clusters.busy:
            example = queue[0]
            if example.pending:
                return []
            known = clusters.memo.get((sig, example.features))
            if known is not None and known in clusters.all:
                clusters.placed(example, known)
                queue.popleft()
                continue
            targets = [] if example.projected else clusters.candidates(example)
            tried = [(c, p) for c in targets if (p := project(example, c.key or frozenset())) is not None
                     and configs.try_build(p) is not None]
            if tried:
                return [self._projection_job(example, tried)]
            queue.popleft()
            self._new_cluster(example)
        return []

    def _projection_job(self, example: Example, tried: list[tuple[Cluster, Raw]]) -> Job:
        example.pending = True
        cases = [self._case(p, "p", "projection", frameworks=[example.framework], devices=[example.device])
                 for _, p in tried]

        def done(outcomes: list[Outcome]) -> None:
            example.pending = False
            for (cluster, _), outcome in zip(tried, outcomes):
                if self._signature(outcome, example.signature) == example.signature:
                    self.clusters.placed(example, cluster)
                    self.clusters.waiting[example.signature].popleft()
                    return
            example.projected = True

        return cases, done

    @staticmethod
    def _signature(outcome: Outcome, sig: Signature) -> Signature | None:
        answer = outcome.answers.get(sig.framework)
        return signature(outcome.case, sig.framework, answer) if answer else None

    def _new_cluster(self, example: Example) -> None:
        raw = configs.clone(example.raw)
        raw.update(frameworks=[example.framework], devices=[example.device])
        crash = example.signature.crash
        shrinker = Shrinker(raw, configs.build(raw), example.signature,
                            cap=CRASH_SHRINK_CAP if crash else self.opts.shrink_cap, chunk=1 if crash else 4,
                            max_chunk=2 if crash else MAX_CHUNK)
        self._clusters_made += 1
        cluster = Cluster(f"k{self._clusters_made:03d}", example.signature, example, shrinker,
                          first_hit=example.index, first_seconds=example.seconds)
        self.clusters.all.append(cluster)
        self.clusters.busy.add(example.signature)

    def _shrink_job(self, cluster: Cluster) -> Job | None:
        shrinker = cluster.shrinker
        sent = shrinker.batch(lambda: self._id("s"), skip=lambda case: self._crash_prone(cluster, case))
        if not sent:
            return self._shrunk(cluster)
        self.runs["shrink"] = self.runs.get("shrink", 0) + len(sent)
        for _, raw, case in sent:
            self._raws[case.id] = raw

        def done(outcomes: list[Outcome]) -> None:
            shrinker.feed([self._signature(o, cluster.signature) for o in outcomes])

        return [case for _, _, case in sent], done

    def _shrunk(self, cluster: Cluster) -> Job | None:
        """Merge the shrunk cluster into one of its cause, or accept it: by key, else by
        projecting its minimal case onto the clusters of its signature with a smaller key."""
        smaller = self.clusters.shrunk(cluster)
        if isinstance(smaller, Cluster):
            return None
        minimal = Example(cluster.raw, cluster.case, cluster.signature, cluster.founder.answer, cluster.first_hit,
                          cluster.first_seconds, cluster.founder.framework, cluster.founder.device)
        tried = [(c, p) for c in smaller if (p := project(minimal, c.key or frozenset())) is not None
                 and configs.try_build(p) is not None]
        if not tried:
            self.clusters.accept(cluster)
            return None
        cluster.state = "merging"
        cases = [self._case(p, "m", "projection") for _, p in tried]

        def done(outcomes: list[Outcome]) -> None:
            for (other, _), outcome in zip(tried, outcomes):
                if self._signature(outcome, cluster.signature) == cluster.signature:
                    self.clusters.merge(cluster, other)
                    return
            self.clusters.accept(cluster)

        return cases, done

    def _explain_job(self, cluster: Cluster) -> Job:
        variants = [v for v in explain.variants(cluster.raw, cluster.case) if not self._crash_prone(cluster, v[3])]
        if cluster.signature.crash:  # one value per parameter, few in all: each kept one crashes
            firsts: dict[str, Any] = {}
            for variant in variants:
                firsts.setdefault(variant[0], variant)
            variants = list(firsts.values())[:CRASH_VARIANTS]
        cases = [self._case(raw, "e", "explain") for _, _, raw, _ in variants]
        confirm = self._case(configs.clone(cluster.raw), "c", "confirm", frameworks=None, devices=None)
        values = explain.current(cluster.case)

        def done(outcomes: list[Outcome]) -> None:
            for (name, value, _, _), outcome in zip(variants, outcomes):
                cluster.tried.append((name, value, self._signature(outcome, cluster.signature) == cluster.signature))
            cluster.explanation = explain.summarize(values, cluster.tried)
            last = outcomes[-1]
            cluster.confirm = last.answers
            cluster.confirm_signatures = {n: signature(last.case, n, a) for n, a in last.answers.items()}
            cluster.state = "done"

        return cases + [confirm], done

    # ------------------------------------------------------------ crash avoidance (crashes.py)

    def _avoid(self, fw: str, case: Case) -> bool:
        """Not to send this generated configuration to fw."""
        return self._crash_pending(fw, case.op) or crashes.explained(self.clusters.all, fw, case)

    def _crash_prone(self, cluster: Cluster, case: Case) -> bool:
        """A follow-up of `cluster` (run on its framework) that would crash it by another cause."""
        return crashes.explained(self.clusters.all, cluster.founder.framework, case, besides=cluster)

    def _crash_pending(self, fw: str, op: str) -> bool:
        examples = [*self.reruns, *self._rerunning, *(e for q in self.clusters.waiting.values() for e in q)]
        return crashes.pending(self.clusters.all, examples, fw, op)

    def _paused(self, cluster: Cluster) -> bool:
        """Hold a cluster's follow-ups while a crash of its op on its framework is looked into."""
        return not cluster.signature.crash and self._crash_pending(cluster.founder.framework, cluster.signature.op)

    def _crashes(self, cases: list[Case], outcomes: dict[str, Outcome]) -> None:
        """A worker crash in a follow-up run is a divergence of its own: re-run and clustered
        like a generated one (so that its cluster soon keeps other runs from crashing)."""
        for case in cases:
            raw = self._raws.get(case.id)
            if raw is None:
                continue
            for name, answer in sorted(outcomes[case.id].answers.items()):
                sig = signature(case, name, answer)
                rec = answer.record
                if sig is not None and sig.crash and not self._crash_pending(rec["framework"], case.op) and not any(
                        c.signature == sig for c in self.clusters.all):
                    self.reruns.append(Example(raw, case, sig, answer, self.stream.count, self.elapsed(),
                                               rec["framework"], rec["device"]))

    # ------------------------------------------------------------ progress

    def _progress(self, final: bool = False) -> None:
        now = self.elapsed()
        found = len(self.clusters.all)
        self.progress_log.append({"seconds": round(now, 2), "configs": self.stream.count, "clusters": found})
        if not self.opts.progress or (not final and now - self._shown < (0.5 if sys.stderr.isatty() else 10.0)):
            return
        self._shown = now
        busy = sum(c.state != "done" for c in self.clusters.all)
        rate = self.stream.count / max(now, 1e-9)
        limit = f"/{self.opts.budget:g}" if self.opts.configs is None and self.opts.budget else ""
        line = (f"discover: {self.stream.count} configs, {found} clusters ({busy} in progress), "
                f"{rate:.1f} configs/s, {now:.0f}{limit} s")
        end = "\n" if final or not sys.stderr.isatty() else ""
        try:
            print(("\r" if sys.stderr.isatty() else "") + line, end=end, file=sys.stderr, flush=True)
        except OSError:
            pass

