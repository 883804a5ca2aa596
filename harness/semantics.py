"""Pure integer rules of pooling: output sizes, SAME pads, window taps, adaptive bins.

Everything here is per spatial dimension and shared by the loader (to reject impossible
parameters), the reference (to build windows) and the adapters (to plan emulations).
The prose version of these rules is docs/semantics.md.
"""

from __future__ import annotations

import math

import numpy as np

from harness.snippets import count_mask, unpad_flat_indices  # noqa: F401 - the shared emulation helpers


def effective_kernel(k: int, d: int) -> int:
    """Extent covered by a dilated window: d*(k-1)+1."""
    return d * (k - 1) + 1


def pooled_length(length: int, k: int, s: int, pad: tuple[int, int], d: int, ceil: bool) -> int:
    """Number of windows along one dim (PyTorch's pooling_output_shape_pad_lr).

    floor/ceil of (L + before + after - eff) / s, plus one; in ceil mode a last window that
    would start inside the after-padding (at or past L + before) is dropped.
    Returns <= 0 when not even one window fits.
    """
    before, after = pad
    span = length + before + after - effective_kernel(k, d)
    if span < 0:
        return 0
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= length + before:
        out -= 1
    return out


def same_padding(length: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow 'SAME': output ceil(L/s); the odd pad element goes after."""
    out = -(-length // s)
    total = max((out - 1) * s + effective_kernel(k, d) - length, 0)
    return total // 2, total - total // 2


def window_taps(
    length: int, k: int, s: int, pad: tuple[int, int], d: int, out: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input positions of every tap of every window along one dim.

    Returns (pos, in_input, in_padded_extent), each of shape (out, k). `pos` may be negative
    or >= length (padding or ceil-mode overhang); the masks say which taps read real input
    and which lie inside [-before, length + after) (those a count_include_pad divisor counts).
    """
    before, after = pad
    pos = np.arange(out)[:, None] * s - before + np.arange(k)[None, :] * d
    in_input = (pos >= 0) & (pos < length)
    in_extent = (pos >= -before) & (pos < length + after)
    return pos, in_input, in_extent


def adaptive_bins(length: int, out: int) -> tuple[int, ...]:
    """Bin i covers [floor(i*L/out), ceil((i+1)*L/out)); returns the starts and ends."""
    return tuple((i * length) // out for i in range(out)) + tuple(
        -(-((i + 1) * length) // out) for i in range(out)
    )


def adaptive_taps(length: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (out, K) of each adaptive bin, K the widest bin, with a validity mask."""
    bounds = adaptive_bins(length, out)
    starts, ends = np.array(bounds[:out]), np.array(bounds[out:])
    width = int((ends - starts).max())
    pos = starts[:, None] + np.arange(width)[None, :]
    return pos, pos < ends[:, None]


def adaptive_is_uniform(length: int, out: int) -> bool:
    """True when adaptive bins are one plain window (k = s = L/out)."""
    return length % out == 0


def ceil_after_pad(length: int, k: int, s: int, pad: tuple[int, int], d: int, out: int) -> int:
    """After-side padding needed so that `out` floor-mode windows fit exactly.

    Emulating ceil mode (or asymmetric padding) by padding explicitly: the last window ends
    at (out-1)*s + eff in padded coordinates.
    """
    need = (out - 1) * s + effective_kernel(k, d) - (length + pad[0])
    return max(need, 0)


def emulation_pads(spatial: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                   padding: tuple[tuple[int, int], ...], dilation: tuple[int, ...],
                   ceil: bool) -> tuple[tuple[int, int], ...]:
    """Explicit pads that make a floor-mode, unpadded pooling produce exactly the case's windows:
    the before-pads as given, the after-pads as long as the last window reads (which covers
    ceil mode, and drops after-padding no window reaches)."""
    out = []
    for L, k, s, pad, d in zip(spatial, kernel, stride, padding, dilation):
        windows = pooled_length(L, k, s, pad, d, ceil)
        out.append((pad[0], ceil_after_pad(L, k, s, pad, d, windows)))
    return tuple(out)


def unpool_length(pooled: int, k: int, s: int, pad: tuple[int, int]) -> int:
    """PyTorch's default max_unpool output length: (pooled - 1) * s - (before + after) + k."""
    return (pooled - 1) * s - pad[0] - pad[1] + k


def prod(values: tuple[int, ...]) -> int:
    return math.prod(values)
