"""Test-session setup.

PaddlePaddle 3.3.1 segfaults when it is imported after TensorFlow 2.21 in one process
(`python -c "import tensorflow; import paddle"` exits 139; the other order works). The harness
runs each framework in its own worker process, but a test process imports them all, so Paddle,
when it is installed, is imported before any test module imports TensorFlow.
"""

import importlib.util

if importlib.util.find_spec("paddle") is not None:
    import paddle  # noqa: F401
