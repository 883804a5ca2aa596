"""pool-parity: pooling parity across PyTorch, Keras and JAX, against a float64 reference."""

from harness.cases import load_cases
from harness.errors import CaseError, CaseErrors, HarnessError
from harness.spec import Case

__all__ = ["load_cases", "Case", "CaseError", "CaseErrors", "HarnessError"]
