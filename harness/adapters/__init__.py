"""Adapter registry: the one place frameworks are named.

Each entry maps a framework name to the adapter module and the environment its worker
process needs before that module imports anything (Keras picks its backend at import).
Adapter modules import their framework lazily, so importing this registry is cheap.

Other packages add adapters through the `pool_parity.adapters` entry-point group
(`[project.entry-points."pool_parity.adapters"] name = "package.module"`): only their metadata is
read here, the module is imported by the worker that runs it.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType


@dataclass(frozen=True)
class AdapterSpec:
    name: str
    module: str
    env: dict[str, str] = field(default_factory=dict, hash=False)
    backend: str | None = None


REGISTRY: dict[str, AdapterSpec] = {
    "torch": AdapterSpec("torch", "harness.adapters.pytorch"),
    "keras": AdapterSpec("keras", "harness.adapters.keras3", {"KERAS_BACKEND": "tensorflow"}, "tensorflow"),
    "keras-jax": AdapterSpec("keras-jax", "harness.adapters.keras3", {"KERAS_BACKEND": "jax"}, "jax"),
    "keras-torch": AdapterSpec("keras-torch", "harness.adapters.keras3", {"KERAS_BACKEND": "torch"}, "torch"),
    "jax": AdapterSpec("jax", "harness.adapters.jaxlax"),
    "onnxruntime": AdapterSpec("onnxruntime", "harness.adapters.onnxruntime"),
    # Kernels differ across opsets (AveragePool has dilations from 19, LpPool ceil_mode from 18).
    "onnxruntime-opset18": AdapterSpec("onnxruntime-opset18", "harness.adapters.onnxruntime", backend="opset18"),
    "torch-onnx": AdapterSpec("torch-onnx", "harness.adapters.torch_onnx"),
    # LiteRT: the TF call converted to a .tflite model; "litert" runs it as the interpreter does by
    # default (XNNPACK delegate), "litert-builtin" on the builtin kernels alone (they differ on NaN).
    "litert": AdapterSpec("litert", "harness.adapters.litert", backend="xnnpack"),
    "litert-builtin": AdapterSpec("litert-builtin", "harness.adapters.litert", backend="builtin"),
    "flax": AdapterSpec("flax", "harness.adapters.flax_pool"),
    "paddle": AdapterSpec("paddle", "harness.adapters.paddle_pool"),
}
# Every built-in adapter runs by default; one whose framework is not installed is reported
# skipped (never passed), so the default is right on any machine.
DEFAULT_FRAMEWORKS = tuple(REGISTRY)
PLUGIN_GROUP = "pool_parity.adapters"
DEVICES = ("cpu", "gpu")

# Extra adapters for tests and experiments: POOL_PARITY_ADAPTERS="name=module,name2=module2".
_EXTRA_ENV = "POOL_PARITY_ADAPTERS"


@functools.lru_cache(maxsize=1)
def plugins() -> dict[str, AdapterSpec]:
    """Adapters other installed packages declare (metadata only: nothing is imported). Read once
    per process; plugins.cache_clear() after installing one in a running process."""
    return {ep.name: AdapterSpec(ep.name, ep.value) for ep in entry_points(group=PLUGIN_GROUP)
            if ep.name not in REGISTRY}


def registry() -> dict[str, AdapterSpec]:
    extra = os.environ.get(_EXTRA_ENV, "")
    out = {**REGISTRY, **plugins()}
    for item in filter(None, (p.strip() for p in extra.split(","))):
        name, _, module = item.partition("=")
        out[name] = AdapterSpec(name, module)
    return out


def get(name: str) -> AdapterSpec:
    return registry()[name]


def load(spec: AdapterSpec) -> ModuleType:
    """Import the adapter module (not its framework)."""
    return importlib.import_module(spec.module)
