"""The fixed benchmark suite: N cases (max/avg, 1-3 spatial dims, valid padding, float32) that
every framework runs natively, cycling through a small set of shape/parameter signatures (as a
real suite does) with a different seed per case. Written as YAML for the harness and as JSON
for the direct-call baseline."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import yaml

SHAPES = {1: [(2, 4, 32), (1, 8, 64)], 2: [(2, 4, 16, 16), (1, 8, 24, 20)], 3: [(1, 4, 8, 8, 8)]}
KERNELS = [2, 3]
STRIDES = [1, 2]
OPS = ["max_pool", "avg_pool"]


class _Plain(yaml.SafeDumper):
    """Writes shared lists out in full (no &anchors), as a person would."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def signatures() -> list[dict]:
    out = []
    for op, shapes, k, s in itertools.product(OPS, SHAPES.values(), KERNELS, STRIDES):
        for shape in shapes:
            out.append({"op": op, "shape": list(shape), "kernel_size": k, "stride": s})
    return out


def cases(n: int) -> list[dict]:
    sigs = signatures()
    return [{**sigs[i % len(sigs)], "id": f"bench-{i:05d}", "seed": i} for i in range(n)]


def write(n: int, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    items = cases(n)
    doc = {"cases": [{"id": c["id"], "op": c["op"],
                      "input": {"shape": c["shape"], "dtype": "float32", "generator": {"kind": "randn", "seed": c["seed"]}},
                      "params": {"kernel_size": c["kernel_size"], "stride": c["stride"]}} for c in items]}
    yaml_path, json_path = directory / "bench.yaml", directory / "bench.json"
    yaml_path.write_text(yaml.dump(doc, Dumper=_Plain, sort_keys=False))
    json_path.write_text(json.dumps(items))
    return yaml_path, json_path
