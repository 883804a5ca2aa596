"""The JAX adapter's building blocks, as source for its plans' scripts.

These functions are never called from here: a plan's code (harness/adapters/script.py) carries
the source of those it uses, after `import numpy as np`, `import jax`, `import jax.numpy as jnp`,
and runs them under jax.jit. Every array is channels-first: windows are (1, 1, *kernel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the scripts import these; here they only name them for the type checker
    import jax
    import jax.numpy as jnp
    import numpy as np

NO_INDEX = 2**31 - 1  # index of a padding tap: loses every tie, becomes -1 at the end


def reduce_windows(x: Any, init: Any, op: Any, window: Any, strides: Any, pads: Any, dilation: Any) -> Any:
    """jax.lax.reduce_window over the spatial dims (x may be a tuple: a variadic reduction)."""
    return jax.lax.reduce_window(x, init, op, (1, 1, *window), (1, 1, *strides), ((0, 0), (0, 0), *pads),
                                 window_dilation=(1, 1, *dilation))


def lowest(dtype: Any) -> Any:
    """The identity of max: -inf, or the integer type's minimum. A NumPy scalar, not a jnp array:
    reduce_window recognises a concrete identity as its max / add monoid, which is what makes it
    differentiable (a traced init takes the generic path)."""
    dtype = np.dtype(dtype)
    return np.array(np.iinfo(dtype).min if dtype.kind in "iu" else -np.inf, dtype)


def first_max(a: Any, b: Any) -> Any:
    """Arg-max reducer over (value, index) pairs: a total order (value, NaN on top, then the
    smaller index), so it is associative and commutative as XLA requires, and picks the first
    maximal tap in window scan order, as the reference does."""
    (av, ai), (bv, bi) = a, b
    a_nan, b_nan = jnp.isnan(av), jnp.isnan(bv)
    same = (av == bv) | (a_nan & b_nan)
    take_a = (av > bv) | (a_nan & ~b_nan) | (same & (ai < bi))
    return jnp.where(take_a, av, bv), jnp.where(take_a, ai, bi)


def argmax_windows(x: Any, window: Any, strides: Any, pads: Any, dilation: Any) -> Any:
    """(window maxima, flat plane index of each window's first maximal tap; NO_INDEX for a window
    of padding only): a variadic reduce_window over (x, a flat-index iota of the unpadded plane).
    Indices carry no gradient (and JAX cannot differentiate a variadic reduce_window)."""
    x = jax.lax.stop_gradient(x)
    iota = jnp.arange(int(np.prod(x.shape[2:])), dtype=jnp.int32).reshape(x.shape[2:])
    init = (lowest(x.dtype), np.array(NO_INDEX, np.int32))
    return reduce_windows((x, jnp.broadcast_to(iota, x.shape)), init, first_max, window, strides, pads, dilation)


def reduce_bins(parts: Any, init: Any, op: Any, bins: Any) -> Any:
    """Adaptive pooling with uneven bins: along each dim (last first), every bin is a static
    slice reduced over its whole width and the pieces are concatenated. Chained max reductions,
    last dim first, pick like one window the first maximal tap in row-major order. `parts` is
    (x,) or (x, iota) with a tuple `init` (arg-max)."""
    n = len(bins)
    ones, flat = (1,) * n, ((0, 0),) * n
    for d in reversed(range(n)):
        pieces = []
        for start, end in bins[d]:
            sl = tuple(jax.lax.slice_in_dim(a, start, end, axis=2 + d) for a in parts)
            window = tuple(end - start if e == d else 1 for e in range(n))
            r = reduce_windows(sl if len(parts) > 1 else sl[0], init, op, window, ones, flat, ones)
            pieces.append(r if isinstance(r, tuple) else (r,))
        parts = tuple(jnp.concatenate([pc[i] for pc in pieces], axis=2 + d) for i in range(len(parts)))
    return parts


def scatter_to_plane(values: Any, idx: Any, size: int, how: str) -> Any:
    """(N*C, size) zeros with each (N, C) plane's values put at their flat indices, `how` 'set'
    (max_unpool: a maximum picked twice lands once) or 'add' (a gradient); NO_INDEX is dropped."""
    rows = values.shape[0] * values.shape[1]
    at = jnp.zeros((rows, size), values.dtype).at[jnp.arange(rows)[:, None], idx.reshape(rows, -1)]
    return getattr(at, how)(values.reshape(rows, -1), mode="drop")
