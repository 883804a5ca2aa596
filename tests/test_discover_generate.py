"""Discovery's generator: valid, canonical, deterministic configurations over the whole case
space, boundaries oversampled, signatures reused, and never a case library read."""

from __future__ import annotations

import collections

import pytest

from harness import semantics
from harness.discover import configs, generate
from harness.discover.generate import ConfigStream
from harness.spec import DTYPES, OPS, WINDOWED_OPS

COUNT = 2000


@pytest.fixture(scope="module")
def stream() -> list:
    return ConfigStream(seed=11).take(COUNT)


def test_every_configuration_is_a_valid_canonical_case(stream: list) -> None:
    for raw, case in stream:
        again = configs.build(raw)  # through the loader's own normaliser
        assert again.params == case.params and again.input == case.input and again.grad == case.grad
        assert configs.canonical(raw, again) == raw  # nothing at its default is written
        assert case.input.shape in generate.SHAPES[case.spatial_dims]


def test_the_stream_is_deterministic_for_a_seed_and_a_prefix_of_any_longer_run() -> None:
    first = [raw for raw, _ in ConfigStream(seed=5).take(40)]
    split = ConfigStream(seed=5)
    again = [raw for raw, _ in split.take(25)] + [raw for raw, _ in split.take(15)]
    other = [raw for raw, _ in ConfigStream(seed=6).take(40)]
    assert first == again
    assert first != other
    assert len({configs.key(r) for r in first}) == 40  # distinct


def test_the_whole_case_space_is_covered(stream: list) -> None:
    cases = [case for _, case in stream]
    assert {c.op for c in cases} == set(OPS)
    assert {c.input.dtype for c in cases} == set(DTYPES)
    assert {c.spatial_dims for c in cases} == {1, 2, 3}
    assert {c.grad for c in cases} == {True, False}
    windowed = [c for c in cases if c.op in WINDOWED_OPS]
    assert {c.params.padding_mode for c in windowed} == {"explicit", "same", "valid"}
    assert any(not c.params.symmetric_padding for c in windowed)
    assert any(c.params.ceil_mode for c in windowed) and any(any(d > 1 for d in c.params.dilation) for c in windowed)
    assert any(c.params.divisor_override for c in cases if c.op == "avg_pool")
    assert any(c.params.return_indices for c in cases if c.op == "max_pool")
    assert {c.params.norm_type for c in cases if c.op == "lp_pool"} >= {1.0, 2.0, 3.0}
    assert {c.params.keepdims for c in cases if c.op.startswith("global")} == {True, False}
    specials = collections.Counter(s for c in cases for s in configs.specials(c))
    assert set(specials) == {"nan", "+inf", "-inf"}
    assert any("large" in configs.features(c) for c in cases)
    kinds = {c.input.gen.get("kind") for c in cases}
    assert kinds == {"randn", "uniform", "randint", "arange", "constant"}
    assert any(c.input.gen.get("kind") == "randint" and c.input.gen.get("high", 9) <= 3 for c in cases)  # ties


def _dims(case):  # noqa: ANN001, ANN202
    p = case.params
    return zip(case.spatial_shape, p.kernel_size, p.stride, p.padding, p.dilation)


def test_boundaries_are_oversampled(stream: list) -> None:
    """Each known boundary appears in at least 2% of the windowed configurations."""
    windowed = [c for _, c in stream if c.op in WINDOWED_OPS]
    rules = {
        "pad = k // 2": lambda c: any(b == a == k // 2 > 0 for L, k, s, (b, a), d in _dims(c)),
        "oversized pad": lambda c: any(max(b, a) > k // 2 for L, k, s, (b, a), d in _dims(c)),
        "ceil remainder": lambda c: c.params.ceil_mode and any(
            (L + b + a - semantics.effective_kernel(k, d)) % s for L, k, s, (b, a), d in _dims(c)),
        "last window starts in padding": lambda c: any(
            (semantics.pooled_length(L, k, s, (b, a), d, c.params.ceil_mode) - 1) * s - b >= L
            or (c.params.ceil_mode and semantics.pooled_length(L, k, s, (b, a), d, True)
                < -(-(L + b + a - semantics.effective_kernel(k, d)) // s) + 1)
            for L, k, s, (b, a), d in _dims(c)),
        "kernel >= input": lambda c: any(k >= L for L, k, s, _, d in _dims(c)),
        "even kernel with same": lambda c: c.params.padding_mode == "same" and any(k % 2 == 0 for k in c.params.kernel_size),
    }
    for name, rule in rules.items():
        share = sum(map(rule, windowed)) / len(windowed)
        assert share >= 0.02, f"{name}: {share:.1%}"
    adaptive = [c for _, c in stream if c.op.startswith("adaptive")]
    outs = [(L, o) for c in adaptive for L, o in zip(c.spatial_shape, c.params.output_size)]
    assert any(o == 1 for _, o in outs) and any(o == L for L, o in outs) and any(L % o for L, o in outs)


def test_inputs_share_signatures_so_each_compiles_once_for_several(stream: list) -> None:
    signatures = collections.Counter((c.op, c.params, c.input.shape, c.input.dtype, c.grad) for _, c in stream)
    assert len(stream) / len(signatures) >= 3  # at least 4 inputs per draw, less the odd duplicate


def test_generation_reads_no_case_library(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.cases
    import harness.load

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("generation read a case file")

    monkeypatch.setattr(harness.load, "read_file", refuse)
    monkeypatch.setattr(harness.cases, "load_cases", refuse)
    assert len(ConfigStream(seed=2).take(30)) == 30


def test_the_stream_does_not_depend_on_what_else_was_imported(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis's default provider also draws constants found in the source of the modules
    imported so far; discovery's backend does not, so a seed means one stream everywhere (and
    nothing is cached under ./.hypothesis)."""
    monkeypatch.chdir(tmp_path)
    before = [configs.key(r) for r, _ in ConfigStream(seed=9).take(200)]
    module = tmp_path / "lots_of_constants.py"
    module.write_text("VALUES = [" + ", ".join(str(i * 7919 + 3) for i in range(400)) + "]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("lots_of_constants")
    after = [configs.key(r) for r, _ in ConfigStream(seed=9).take(200)]
    assert before == after
    assert not (tmp_path / ".hypothesis").exists()
