"""Direct-call baseline: the benchmark suite's pooling calls in a plain loop, no harness.

Usage: python benchmarks/baseline.py SUITE.json FRAMEWORK   (torch | keras | jax)
Prints one JSON line: {"framework", "import_s", "loop_s", "calls"}. Inputs are generated the
way the harness does (NumPy PCG64 randn, float32), outside the timed loop.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main(path: str, framework: str) -> None:
    items = json.loads(open(path).read())
    xs = [np.random.default_rng(c["seed"]).standard_normal(c["shape"]).astype(np.float32) for c in items]
    t0 = time.perf_counter()
    call = _framework(framework)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c, x in zip(items, xs):
        call(c, x)
    print(json.dumps({"framework": framework, "import_s": import_s, "loop_s": time.perf_counter() - t0,
                      "calls": len(items)}))


def _framework(name: str):  # noqa: ANN202 - returns a framework-specific closure
    if name == "torch":
        import torch
        import torch.nn.functional as F

        def call(c, x):  # noqa: ANN001, ANN202
            n = len(c["shape"]) - 2
            fn = getattr(F, f"{c['op'].replace('_pool', '')}_pool{n}d")
            return fn(torch.from_numpy(x), c["kernel_size"], c["stride"]).numpy()

        return call
    if name == "keras":
        import keras

        def call(c, x):  # noqa: ANN001, ANN202
            n = len(c["shape"]) - 2
            xt = keras.ops.convert_to_tensor(np.moveaxis(x, 1, -1), dtype="float32")
            fn = keras.ops.max_pool if c["op"] == "max_pool" else keras.ops.average_pool
            out = fn(xt, (c["kernel_size"],) * n, (c["stride"],) * n, "valid")
            return np.moveaxis(keras.ops.convert_to_numpy(out), -1, 1)

        return call
    if name == "jax":
        import jax
        import jax.numpy as jnp

        def call(c, x):  # noqa: ANN001, ANN202
            n = len(c["shape"]) - 2
            k, s = (1, 1) + (c["kernel_size"],) * n, (1, 1) + (c["stride"],) * n
            if c["op"] == "max_pool":
                out = jax.lax.reduce_window(jnp.asarray(x), -jnp.inf, jax.lax.max, k, s, "VALID")
            else:
                out = jax.lax.reduce_window(jnp.asarray(x), 0.0, jax.lax.add, k, s, "VALID") / np.prod(k)
            return np.asarray(out)

        return call
    raise SystemExit(f"unknown framework {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
