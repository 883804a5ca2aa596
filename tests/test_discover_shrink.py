"""The shrinker and the explanation, against oracles written here from a rule (no framework):
the result is 1-minimal for the signature, every candidate is a valid case, effort is capped."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness import semantics
from harness.discover import configs, explain
from harness.discover.classify import Signature
from harness.discover.shrink import Shrinker, candidates
from harness.inputs import make_input
from harness.spec import Case

SIG = Signature("rule", "numeric_mismatch", "output:values", "avg_pool")
OTHER = Signature("rule", "numeric_mismatch", "output:nan_missing", "avg_pool")


def partial_ceil_window(case: Case) -> Signature | None:
    """The planted ceil-divisor rule: an avg_pool in ceil mode with a window that reaches past
    the padded extent, on an input that is not all zeros (else nothing shows)."""
    p = case.params
    if case.op != "avg_pool" or not p.ceil_mode or not make_input(case.input).any():
        return None
    for L, k, s, pad, d in zip(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation):
        out = semantics.pooled_length(L, k, s, pad, d, True)
        pos, _, _ = semantics.window_taps(L, k, s, pad, d, out)
        if (pos >= L + pad[1]).any():
            return OTHER if np.isnan(make_input(case.input)).any() else SIG
    return None


def shrink(raw: dict, rule: Callable[[Case], Signature | None], cap: int = 500) -> Shrinker:
    """Run a Shrinker to its end with `rule` as the oracle (each batch answered in order)."""
    case = configs.build(raw)
    shrinker = Shrinker(raw, case, rule(case), cap=cap)  # type: ignore[arg-type]
    ids = iter(range(10**6))
    while True:
        sent = shrinker.batch(lambda: f"s{next(ids)}")
        if not sent:
            return shrinker
        for _, sent_raw, sent_case in sent:  # every candidate went through the loader
            assert configs.build(sent_raw).params == sent_case.params
        shrinker.feed([rule(case) for _, _, case in sent])


BIG = {"id": "g1", "op": "avg_pool",
       "input": {"shape": [2, 3, 9, 7], "dtype": "float64", "generator": {"kind": "randn", "seed": 4, "std": 30.0},
                 "inject": [{"value": "-inf", "fraction": 0.05}]},
       "params": {"kernel_size": [4, 3], "stride": [3, 2], "padding": [[1, 1], [0, 1]], "ceil_mode": True,
                  "count_include_pad": False},
       "grad": True}


def test_shrinks_to_the_hand_derived_minimal_case() -> None:
    """Minimal by hand: ceil mode adds a window only when (L - k) % s != 0, so s >= 2; a kernel
    of 1 never reaches past the input, so k >= 2; with k = s = 2 the shortest input whose last
    window starts inside it and runs past it is L = 3. N = C = 1, one dim, float32, no
    gradient, no padding or special values, and a constant 1 input (nonzero, so it shows)."""
    assert partial_ceil_window(configs.build(BIG)) == SIG
    done = shrink(BIG, partial_ceil_window)
    case = done.case
    assert done.minimal and done.done
    assert case.input.shape == (1, 1, 3) and case.input.dtype == "float32" and not case.grad
    assert case.params.kernel_size == (2,) and case.params.stride == (2,) and case.params.padding == ((0, 0),)
    assert case.params.ceil_mode and case.params.count_include_pad and case.params.dilation == (1,)
    assert case.input.gen == {"kind": "constant", "value": 1.0} and not case.input.inject
    assert configs.written(done.raw)["params"] == {"kernel_size": 2, "ceil_mode": True}


def test_the_result_is_one_minimal_no_single_step_keeps_the_signature() -> None:
    done = shrink(BIG, partial_ceil_window)
    for _, raw in candidates(done.raw, done.case):
        case = configs.try_build(raw)
        if case is not None:
            assert partial_ceil_window(case) != SIG


def test_the_signature_is_the_predicate_not_still_failing() -> None:
    """With NaN injected the rule gives another signature: no step may slip onto it, so the
    NaN (which a 'still fails' predicate would keep or drop at will) is never kept or added."""
    raw = configs.clone(BIG)
    raw["input"]["inject"] = [{"value": "nan", "fraction": 0.02}]
    assert partial_ceil_window(configs.build(raw)) == OTHER
    done = shrink(raw, partial_ceil_window)
    assert done.signature == OTHER and partial_ceil_window(done.case) == OTHER
    assert configs.specials(done.case) == {"nan"}


def test_effort_is_capped_and_recorded() -> None:
    done = shrink(BIG, partial_ceil_window, cap=7)
    assert done.done and not done.minimal and done.evaluations == 7
    assert partial_ceil_window(done.case) == SIG  # whatever it reached still shows the signature


def test_explanation_reports_pinned_and_free_parameters() -> None:
    done = shrink(BIG, partial_ceil_window)
    tried = [(name, value, partial_ceil_window(case) == SIG) for name, value, _, case in
             explain.variants(done.raw, done.case)]
    report = explain.summarize(explain.current(done.case), tried)
    # One length, kernel and stride make the one partial window: L = 2 or 4 and k = 1 or 3
    # fit exactly, s = 1 has no ceil effect and s = 3 drops the window that would start at 3.
    assert report["pinned"] == {**report["pinned"], "ceil_mode": "true", "length": "3", "kernel_size": "2",
                                "stride": "2", "padding": "[0, 0]"}
    assert {"N", "C", "grad", "dtype", "count_include_pad", "input.generator"} <= set(report["free"])
