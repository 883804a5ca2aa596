"""Signatures and the cluster rule, on pairs whose causes are known."""

from __future__ import annotations

import numpy as np
import pytest

from harness.discover import configs
from harness.discover.classify import Signature, error_class, output_kind, signature
from harness.discover.cluster import Cluster, Clusters, Example, project
from harness.discover.oracle import Answer
from harness.discover.shrink import Shrinker

# Framework messages as the workers report them (pool-parity run cases, the pinned versions).
TF_INT32 = ("InvalidArgumentError: Value for attr 'T' of int32 is not in the list of allowed values: half, bfloat16, "
            "float, double ; NodeDef: {{node AvgPool}}; Op<name=AvgPool; signature=value:T -> output:T; "
            "attr=ksize:list(int),min=4; attr=padding:string,allowed=[\"SAME\", \"VALID\"];")
TF_INT64 = TF_INT32.replace("of int32", "of int64")
TF_F64_3D = ("InvalidArgumentError: Value for attr 'T' of double is not in the list of allowed values: half, bfloat16, "
             "float ; NodeDef: {{node MaxPool3D}}; Op<name=MaxPool3D; signature=input:T -> output:T;")
TF_AVG3D = ("NotFoundError: Could not find device for node: {{node AvgPool3D}} = AvgPool3D[T=DT_DOUBLE, "
            "data_format=\"NDHWC\", ksize=[1, 2, 2, 2, 1], padding=\"VALID\", strides=[1, 2, 2, 2, 1]] All kernels "
            "registered for op AvgPool3D: device='XLA_CPU_JIT'; T in [DT_FLOAT, DT_DOUBLE]")
TORCH_INT = "NotImplementedError: \"avg_pool2d\" not implemented for 'Int'"
TORCH_LONG = "NotImplementedError: \"adaptive_avg_pool3d\" not implemented for 'Long'"
SIGFPE = "worker crashed (killed by signal 8; its messages are in /tmp/a/logs/keras.log)"
SIGSEGV = "worker crashed (killed by signal 11; its messages are in /tmp/b/logs/keras.log)"
TIMEOUT = "timed out after 30s (worker killed)"


@pytest.mark.parametrize("a,b", [(TF_INT32, TF_INT64), (TF_INT32, TF_F64_3D), (TORCH_INT, TORCH_LONG)])
def test_what_varies_within_one_kind_of_message_is_stripped(a: str, b: str) -> None:
    """dtype names, numbers, quoted names and the allowed-types list vary within one kind of
    message (the op, dtype and dims that do matter are in the signature and the features)."""
    assert error_class(a) == error_class(b)


@pytest.mark.parametrize("a,b", [(TF_INT32, TF_AVG3D), (TF_INT32, TORCH_INT), (SIGFPE, SIGSEGV), (SIGFPE, TIMEOUT)])
def test_different_causes_give_different_error_classes(a: str, b: str) -> None:
    assert error_class(a) != error_class(b)


def test_error_classes_read_as_the_message_head() -> None:
    assert error_class(TF_INT32) == "InvalidArgumentError: Value for attr ? of ? is not in the list of allowed values"
    assert error_class(SIGFPE) == "worker crashed (killed by SIGFPE)"
    assert error_class(TORCH_INT) == "NotImplementedError: ? not implemented for ?"


def _case(op: str = "avg_pool", dtype: str = "float32", **params):  # noqa: ANN003, ANN202
    raw = {"id": "t", "op": op, "input": {"shape": [1, 1, 4], "dtype": dtype, "generator": {"kind": "randn", "seed": 1}},
           "params": {"kernel_size": [2], **params}}
    return raw, configs.build(raw)


def _answer(ref: list[float], got: list[float], dtype: str = "float32", verdict: str = "numeric_mismatch") -> Answer:
    rec = {"framework": "fw", "device": "cpu", "raw_verdict": verdict, "verdict": verdict,
           "comparison": {"output": {"mismatches": 1, "total": len(ref)}, "shape": [1, 1, len(got)],
                          "ref_shape": [1, 1, len(ref)]}}
    return Answer(rec, np.array([[got]], dtype=dtype), np.array([[ref]], dtype=np.float64))


@pytest.mark.parametrize("ref,got,kind", [
    ([np.nan, 1.0], [3.0, 1.0], "nan_missing"),
    ([2.0, 1.0], [np.nan, 1.0], "nan_extra"),
    ([2.0, 1.0], [np.inf, 1.0], "inf_overflow"),
    ([-np.inf, 1.0], [-3.4e38, 1.0], "inf_lost"),
    ([-np.inf, 1.0], [np.inf, 1.0], "inf_sign"),
    ([2.0, 1.0], [2.5, 1.0], "values"),
])
def test_output_kinds(ref: list[float], got: list[float], kind: str) -> None:
    _, case = _case()
    assert output_kind(case, _answer(ref, got)) == kind


def test_a_value_the_dtype_cannot_hold_answered_as_its_nearest_is_not_a_divergence() -> None:
    _, f16 = _case(dtype="float16")
    assert output_kind(f16, _answer([1e5, 1.0], [np.inf, 1.0], "float16")) is None  # float16 max is 65504
    assert output_kind(f16, _answer([6e4, 1.0], [np.inf, 1.0], "float16")) == "inf_overflow"  # 6e4 fits
    _, i32 = _case(op="max_pool", dtype="int32")
    low = float(np.iinfo(np.int32).min)  # a window of padding only: -inf, which int32 cannot hold
    assert output_kind(i32, _answer([-np.inf, 1.0], [low, 1.0], "int32")) is None
    assert output_kind(i32, _answer([-np.inf, 1.0], [0.0, 1.0], "int32")) == "inf_lost"


def test_within_tolerance_is_not_a_divergence() -> None:
    _, case = _case()
    assert output_kind(case, _answer([2.0, 1.0], [2.0 + 1e-7, 1.0])) is None


def test_signature_of_errors_shapes_ties() -> None:
    _, case = _case()
    err = Answer({"framework": "keras", "device": "cpu", "raw_verdict": "error", "error": TF_INT32})
    assert signature(case, "keras", err) == Signature("keras", "error", "error", "avg_pool", error_class(TF_INT32))
    shape = Answer({"framework": "jax", "device": "cpu", "raw_verdict": "shape_mismatch",
                    "comparison": {"shape": [1, 1, 3], "ref_shape": [1, 1, 2]}})
    assert signature(case, "jax", shape).detail == "==+"  # type: ignore[union-attr]
    tie = Answer({"framework": "torch", "device": "cpu", "raw_verdict": "tie_break",
                  "comparison": {"grad": {"verdict": "tie_break", "tie_rule": "split"}}})
    assert signature(case, "torch", tie).kind == "grad:tie-split"  # type: ignore[union-attr]
    for verdict in ("pass", "unsupported", "skipped"):
        assert signature(case, "torch", Answer({"raw_verdict": verdict})) is None
    broken = Answer({"framework": "torch", "device": "cpu", "raw_verdict": "error",
                     "error": "could not build the input: OverflowError: range"})
    assert signature(case, "torch", broken) is None  # the harness's failure, not the framework's


def test_features_name_what_is_not_at_its_default() -> None:
    _, plain = _case()
    assert configs.features(plain) == frozenset()
    raw = {"id": "t", "op": "avg_pool", "input": {"shape": [1, 1, 4, 4], "dtype": "int32",
                                                  "generator": {"kind": "constant", "value": 5000}},
           "params": {"kernel_size": 2, "ceil_mode": True, "padding": [[0, 1], [1, 1]], "count_include_pad": False}}
    assert configs.features(configs.build(raw)) == {"dims=2", "dtype=int32", "ceil_mode", "padding=asymmetric",
                                                    "count_include_pad=False", "large"}
    nan = {"id": "n", "op": "max_pool", "input": {"shape": [1, 1, 4], "generator": {"kind": "randn"},
                                                   "inject": [{"value": "nan", "fraction": 0.5}]},
           "params": {"kernel_size": 2}, "grad": True}
    assert configs.features(configs.build(nan)) == {"nan", "grad"}


def _example(raw: dict, sig: Signature, index: int = 1) -> Example:
    case = configs.build(raw)
    return Example(raw, case, sig, Answer({}), index, 0.0, sig.framework, "cpu")


def test_projection_sets_every_feature_beyond_the_key_to_its_default() -> None:
    sig = Signature("keras", "numeric_mismatch", "output:nan_missing", "max_pool")
    raw = {"id": "x", "op": "max_pool", "input": {"shape": [2, 3, 7, 7], "dtype": "float16", "generator": {"kind": "randn", "std": 1e4},
                                                  "inject": [{"value": "nan", "fraction": 0.1}, {"value": "-inf", "fraction": 0.1}]},
           "params": {"kernel_size": [3, 3], "padding": [[1, 1], [1, 1]], "ceil_mode": True}, "grad": True}
    projected = project(_example(raw, sig), frozenset({"nan"}))
    case = configs.build(projected)  # type: ignore[arg-type]
    assert configs.features(case) == {"nan"}
    assert case.spatial_dims == 1 and case.input.dtype == "float32" and not case.grad
    assert not case.params.ceil_mode and case.params.padding == ((0, 0),)


def test_examples_of_one_signature_join_a_cluster_by_key_and_different_keys_stay_apart() -> None:
    sig = Signature("t", "error", "error", "avg_pool", "E")
    clusters = Clusters()
    base = {"id": "a", "op": "avg_pool", "input": {"shape": [1, 1, 4], "dtype": "int32", "generator": {"kind": "randint"}},
            "params": {"kernel_size": [2]}}
    founder = _example(base, sig)
    first = Cluster("k1", sig, founder, Shrinker(base, founder.case, sig))
    clusters.all.append(first)
    assert clusters.shrunk(first) == []
    clusters.accept(first)
    assert first.key == {"dtype=int32"}
    ceil = {**base, "params": {"kernel_size": [2], "ceil_mode": True}}
    later = _example(ceil, sig, index=5)
    assert clusters.candidates(later) == [first]  # its features include the key: projected onto it
    other = {**base, "input": {**base["input"], "dtype": "float16"}}
    second_ex = _example(other, sig, index=9)
    assert clusters.candidates(second_ex) == []  # float16 is not int32: shrunk on its own
    second = Cluster("k2", sig, second_ex, Shrinker(other, second_ex.case, sig), first_hit=9)
    clusters.all.append(second)
    assert clusters.shrunk(second) == []
    clusters.accept(second)
    twin_raw = {**base, "id": "b"}
    twin = _example(twin_raw, sig, index=12)
    again = Cluster("k3", sig, twin, Shrinker(twin_raw, twin.case, sig), first_hit=12)
    clusters.all.append(again)
    assert clusters.shrunk(again) is first  # same signature, same key: one cause, merged
    assert [c.id for c in clusters.all] == ["k1", "k2"] and first.examples == 2
