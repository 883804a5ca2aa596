"""NumPy helpers that the harness calls and that repro scripts carry as their own source.

Emulations that several adapters share (the divisor mask of an emulated average, the index
remap of an emulated pad) are written once here. An adapter's script embeds the source of the
function it needs (`source(count_mask)`), so the script runs standalone and runs exactly this
code. Keep them self-contained: NumPy only, no other names from this package.
"""

from __future__ import annotations

import inspect

import numpy as np


def count_mask(spatial, declared, applied, include_pad):  # type: ignore[no-untyped-def]
    """Over an input padded explicitly by `applied`: 1 where a tap counts toward an average's
    divisor (the real input, plus the `declared` padding when include_pad), 0 elsewhere (the
    ceil-mode overhang, or all padding without include_pad). Pooling this mask with the
    framework's own window sum gives the divisor the semantics require."""
    counted = [(b, min(a, pa)) if include_pad else (0, 0) for (b, a), (_, pa) in zip(declared, applied)]
    mask = np.pad(np.ones(spatial), counted, constant_values=1.0)
    return np.pad(mask, [(ab - cb, aa - ca) for (cb, ca), (ab, aa) in zip(counted, applied)])


def unpad_flat_indices(flat, spatial, pads):  # type: ignore[no-untyped-def]
    """Flat indices into a plane padded by `pads` -> flat indices into the input plane; -1 where
    the index points into the padding (a window with no real tap)."""
    padded = tuple(n + b + a for n, (b, a) in zip(spatial, pads))
    coords = np.unravel_index(flat, padded)
    shifted = tuple(c - b for c, (b, _) in zip(coords, pads))
    inside = np.logical_and.reduce([(c >= 0) & (c < n) for c, n in zip(shifted, spatial)])
    return np.where(inside, np.ravel_multi_index(shifted, spatial, mode="clip"), -1).astype(np.int64)


def source(fn: object) -> str:
    """A helper's source as a script carries it (without the type-checker's comment)."""
    return inspect.getsource(fn).replace("  # type: ignore[no-untyped-def]", "")  # type: ignore[arg-type]
