"""Loader and normaliser: every bad input is one line naming file, line, case and field."""

from __future__ import annotations

import dataclasses
import pickle
import textwrap
from pathlib import Path

import pytest

from harness.cases import load_cases
from harness.errors import CaseErrors
from harness.load import read_file
from harness.normalise import normalise

GOOD_INPUT = "input: {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 1}}"


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(CaseErrors) as info:
        load_cases([str(path)])
    return [str(e) for e in info.value.errors]


# (yaml body, expected substrings of the single error line)
BAD = [
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, stride: 0}\n",
     ["c.yaml:5:", "case 'a'", "params.stride", "must be >= 1, got 0"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, strid: 1}\n",
     ["c.yaml:5:", "params.strid", "unknown key", "did you mean 'stride'"]),
    ("cases:\n  - id: a\n    op: maxpool\n    " + GOOD_INPUT + "\n",
     ["c.yaml:3:", "case 'a'", "op", "did you mean 'max_pool'"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 5}\n",
     ["params.kernel_size", "does not fit input length 4"]),
    ("cases:\n  - id: a\n    op: avg_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, return_indices: true}\n",
     ["params.return_indices", "not a parameter of avg_pool"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: [2, 2, 2]}\n",
     ["params.kernel_size", "a list of 2 ints"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 4, 4], values: [[1]]}\n    params: {kernel_size: 2}\n",
     ["input.values", "matching shape [1, 4, 4]"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [4, 4], generator: {kind: randn}}\n    params: {kernel_size: 2}\n",
     ["input.shape", "3 to 5 entries"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 1, 4], dtype: float8, generator: {kind: randn}}\n    params: {kernel_size: 2}\n",
     ["input.dtype", "float8"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 1, 4], generator: {kind: gauss}}\n    params: {kernel_size: 2}\n",
     ["input.generator.kind", "gauss"]),
    ("cases:\n  - id: a\n    op: lp_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n",
     ["params.norm_type", "finite norm_type > 0"]),
    ("cases:\n  - id: a\n    op: avg_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, divisor_override: 0}\n",
     ["params.divisor_override", ">= 1"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, padding: -1}\n",
     ["params.padding", ">= 0"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, padding: middle}\n",
     ["params.padding", "'same' or 'valid'"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, ceil_mode: yes please}\n",
     ["params.ceil_mode", "true or false"]),
    ("cases:\n  - id: a\n    op: adaptive_avg_pool\n    " + GOOD_INPUT + "\n    params: {output_size: 0}\n",
     ["params.output_size", ">= 1"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    frameworks: [pytorch]\n",
     ["frameworks", "unknown name 'pytorch'"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    expect: {jax: {verdict: numeric_mismatch}}\n",
     ["expect.jax.reason", "one-line reason"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    expect: {jax: {verdict: [error, error], reason: r}}\n",
     ["c.yaml:6:", "expect.jax.verdict", "different verdicts", "['error', 'error']"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    expect: {jax: {verdict: [error, crash], reason: r}}\n",
     ["expect.jax.verdict", "different verdicts"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    expect: {jax: {verdict: pass, reason: r}}\n",
     ["expect.jax.verdict", "machine-dependent behaviour, e.g. [error, pass]", "got 'pass'"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    expect: {jax: {verdict: error, reason: r, condition: AVX-512}}\n",
     ["expect.jax.condition", "list the verdicts it chooses between"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    matrix: {kernel_size: [2, 3]}\n"
     "    expect: {jax: {verdict: error, reason: r, when: {stride: 2}}}\n",
     ["c.yaml:6:", "case 'a-k2'", "expect.jax.when.stride", "not a matrix key of this case (matrix keys: kernel_size)"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    matrix: {kernel_size: [2, 3]}\n"
     "    expect: {jax: {verdict: error, reason: r, when: {kernel_size: 4}}}\n",
     ["expect.jax.when.kernel_size", "4 is not one of the matrix values [2, 3]"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n"
     "    expect: {jax: {verdict: error, reason: r, when: {kernel_size: 2}}}\n",
     ["expect.jax.when", "this case has no matrix"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 1, 4], dtype: int32, generator: {kind: randn}, inject: [{value: nan, at: [[0, 0, 1]]}]}\n    params: {kernel_size: 2}\n",
     ["input.inject[0].value", "int32 input cannot hold nan"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 1, 4], dtype: int32, generator: {kind: randn}}\n    params: {kernel_size: 2}\n    grad: true\n",
     ["grad", "floating dtype"]),
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 1, 4], generator: {kind: randn}, values: [[[1, 2, 3, 4]]]}\n    params: {kernel_size: 2}\n",
     ["input", "exactly one of 'values' or 'generator'"]),
    ("cases:\n  - id: a\n    id: b\n", ["c.yaml:3:", "id", "duplicate key"]),
    ("cases:\n  - id: a\n    op: [unclosed\n", ["c.yaml:", "invalid YAML"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n    colour: red\n",
     ["c.yaml:6:", "colour", "unknown key"]),
    ("kases: []\n", ["c.yaml:1:", "cases", "'cases:' list"]),
    ("cases:\n  - !!python/object/apply:os.system ['true']\n", ["c.yaml", "invalid YAML"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    matrix: {~: [1]}\n",
     ["c.yaml:5:", "case 'a'", "matrix", "keys must be parameter names, got None"]),
    ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: 3\n    matrix: {stride: [1]}\n",
     ["c.yaml:5:", "case 'a'", "params", "must be a mapping, got 3"]),
    # 64 planes x 62**3 windows x 27 taps = 411,830,784 float64 values: over the 2**28 limit
    ("cases:\n  - id: a\n    op: max_pool\n    input: {shape: [1, 64, 64, 64, 64], generator: {kind: randn}}\n"
     "    params: {kernel_size: 3, stride: 1}\n",
     ["c.yaml:4:", "case 'a'", "input.shape", "too large", "411,830,784 values (3.1 GiB)"]),
    ("cases:\n  - id: a\n    op: global_avg_pool\n    input: {shape: [100000, 1000, 1000], generator: {kind: randn}}\n",
     ["c.yaml:4:", "input.shape", "too large", "100,000,000,000 values"]),
]


@pytest.mark.parametrize("body,expected", BAD, ids=[e[-1] for _, e in BAD])
def test_bad_case_gives_one_clear_line(tmp_path: Path, body: str, expected: list[str]) -> None:
    errors = errors_of(tmp_path, body)
    assert len(errors) == 1, errors
    for part in expected:
        assert part in errors[0], (part, errors[0])
    assert "\n" not in errors[0]


def test_all_problems_are_listed_together(tmp_path: Path) -> None:
    body = ("cases:\n  - id: a\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, stride: 0}\n"
            "  - id: b\n    op: avg_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2, dilation: 0}\n")
    errors = errors_of(tmp_path, body)
    assert len(errors) == 2 and "case 'a'" in errors[0] and "case 'b'" in errors[1]


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    body = "cases:\n  - id: dup\n    op: max_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 2}\n"
    write(tmp_path, body, "a.yaml")
    write(tmp_path, body, "b.yaml")
    with pytest.raises(CaseErrors) as info:
        load_cases([str(tmp_path)])
    (err,) = [str(e) for e in info.value.errors]
    assert "b.yaml:2" in err and "a.yaml:2" in err and "duplicate id" in err


def test_matrix_expands_with_readable_ids(tmp_path: Path) -> None:
    path = write(tmp_path, """
        cases:
          - id: avg
            op: avg_pool
            input: {shape: [1, 1, 7, 7], generator: {kind: randn, seed: 1}}
            params: {padding: 1}
            matrix:
              kernel_size: [3]
              stride: [2]
              ceil_mode: [true, false]
              count_include_pad: [false, true]
        """)
    ids = [c.id for c in load_cases([str(path)])]
    assert ids == ["avg-k3-s2-ceil-cip0", "avg-k3-s2-ceil-cip1", "avg-k3-s2-floor-cip0", "avg-k3-s2-floor-cip1"]


def test_a_grid_holds_its_repeated_values_once(tmp_path: Path) -> None:
    """A large suite is held whole while it runs: equal parameters, shapes and generator
    settings are one object, not one per case."""
    path = write(tmp_path, """
        cases:
          - id: g
            op: max_pool
            input: {shape: [1, 2, 8, 8], generator: {kind: randn, std: 2.0}}
            params: {kernel_size: 2}
            matrix:
              dtype: [float32, float64]
              stride: [1, 2]
        """)
    a, b, c, d = load_cases([str(path)])
    assert a.params is c.params and b.params is d.params and a.params is not b.params
    assert a.input.dtype == "float32" and c.input.dtype == "float64" and a.input.seed != b.input.seed
    assert a.input.shape is b.input.shape and a.input.generator is d.input.generator
    assert a.op is d.op and a.source.path is d.source.path


def test_matrix_error_names_the_generated_case(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, """
        cases:
          - id: m
            op: max_pool
            input: {shape: [1, 1, 4], generator: {kind: randn}}
            matrix:
              kernel_size: [2, 9]
        """)
    assert len(errors) == 1 and "case 'm-k9'" in errors[0] and "c.yaml:6:" in errors[0]


def test_normalised_defaults_are_pytorchs(tmp_path: Path) -> None:
    path = write(tmp_path, "cases:\n  - id: a\n    op: avg_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 3}\n")
    (case,) = load_cases([str(path)])
    p = case.params
    assert (p.stride, p.padding, p.dilation) == ((3, 3), ((0, 0), (0, 0)), (1, 1))
    assert p.count_include_pad is True and p.ceil_mode is False and p.divisor_override is None
    assert case.input.dtype == "float32"


def test_same_padding_excludes_pads_from_the_divisor_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, "cases:\n  - id: a\n    op: avg_pool\n    " + GOOD_INPUT + "\n    params: {kernel_size: 3, stride: 2, padding: same}\n")
    (case,) = load_cases([str(path)])
    assert case.params.padding == ((0, 1), (0, 1)) and case.params.count_include_pad is False


def test_channels_last_input_is_stored_channels_first(tmp_path: Path) -> None:
    path = write(tmp_path, """
        cases:
          - id: a
            op: global_max_pool
            input: {shape: [1, 2, 2, 3], layout: channels_last,
                    values: [[[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]]}
        """)
    (case,) = load_cases([str(path)])
    assert case.input.shape == (1, 3, 2, 2)
    assert case.input.values is not None and case.input.values[:4] == (1.0, 4.0, 7.0, 10.0)


def test_file_defaults_merge_into_cases(tmp_path: Path) -> None:
    path = write(tmp_path, """
        defaults:
          input: {dtype: float64}
          params: {stride: 1}
        cases:
          - id: a
            op: max_pool
            input: {shape: [1, 1, 4], generator: {kind: arange}}
            params: {kernel_size: 2}
        """)
    (case,) = load_cases([str(path)])
    assert case.input.dtype == "float64" and case.params.stride == (1,)


def test_shipped_cases_validate() -> None:
    cases = load_cases(["cases"])
    assert len(cases) >= 17


def test_a_large_case_just_under_the_size_limit_loads(tmp_path: Path) -> None:
    # 32 planes x 62**3 windows x 27 taps = 205,915,392 values, under 2**28
    path = write(tmp_path, """
        cases:
          - id: big
            op: max_pool
            input: {shape: [1, 32, 64, 64, 64], generator: {kind: randn}}
            params: {kernel_size: 3, stride: 1}
        """)
    assert [c.id for c in load_cases([str(path)])] == ["big"]


def test_cases_survive_the_trip_to_a_worker() -> None:
    """Cases are pickled field by field (spec._pickled_by_fields): every shipped case, with its
    expectations, native overrides, injections and generator, comes back equal."""
    cases = load_cases(["cases"])
    back = pickle.loads(pickle.dumps(cases, protocol=pickle.HIGHEST_PROTOCOL))
    assert repr(back) == repr(cases)  # repr: an injected NaN is not equal to itself
    assert [(type(c), type(c.input), type(c.params)) for c in back] == [(type(c), type(c.input), type(c.params)) for c in cases]
    assert any(c.expect for c in cases) and any(c.input.inject for c in cases)
    native = dataclasses.replace(cases[0], native={"torch": {"call": "avg_pool2d"}}, tolerance=(0.1, 0.2))
    assert pickle.loads(pickle.dumps(native)) == native


def test_streamed_file_keeps_anchors_late_defaults_lines_and_case_text(tmp_path: Path) -> None:
    path = write(tmp_path, """
        cases:
          - id: first
            op: max_pool
            input: &shared {shape: [1, 1, 4, 4], generator: {kind: randn, seed: 1}}
            params: {kernel_size: 2}
          # a comment between cases
          - {id: second, op: avg_pool, input: *shared, params: {kernel_size: 3}}
          - id: third
            op: max_pool
            input: *shared
        defaults:
          params: {kernel_size: 2, stride: 1}
        """)
    first, second, third = load_cases([str(path)])
    assert first.input == second.input == third.input
    assert (first.params.stride, second.params.kernel_size, third.params.kernel_size) == ((1, 1), (3, 3), (2, 2))
    assert (first.source.line, second.source.line, third.source.line) == (2, 7, 8)
    assert first.yaml_text.splitlines()[0] == "  - id: first" and first.yaml_text.endswith("# a comment between cases")
    assert second.yaml_text == "  - {id: second, op: avg_pool, input: *shared, params: {kernel_size: 3}}"
    assert third.yaml_text.splitlines() == ["  - id: third", "    op: max_pool", "    input: *shared"]


def test_errors_deep_in_a_long_file_name_their_line(tmp_path: Path) -> None:
    body = "".join(f"  - {{id: c{i}, op: max_pool, {GOOD_INPUT}, params: {{kernel_size: 2}}}}\n" for i in range(500))
    body += "  - {id: bad, op: max_pool, " + GOOD_INPUT + ", params: {kernel_size: 2, stride: 0}}\n"
    errors = errors_of(tmp_path, "cases:\n" + body)
    assert len(errors) == 1 and "c.yaml:502:" in errors[0] and "case 'bad'" in errors[0]


def test_two_documents_are_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, "cases: []\n---\ncases: []\n")
    assert len(errors) == 1 and "c.yaml:2:" in errors[0] and "single document" in errors[0]


def test_values_are_what_the_safe_loader_makes(tmp_path: Path) -> None:
    """Case files are read from parser events, not through yaml.safe_load: every scalar form must
    still come out as the safe loader makes it (YAML 1.1 booleans, bases, sexagesimals, specials)."""
    import yaml

    from harness.load import read_file

    tags = ('[a, "b", \'c\', yes, No, ~, null, "", 0x1F, 0o17, 017, 1_000, -12, 1:30, .inf, -.Inf, .NaN, 2001-12-14, '
            '"2001-12-14", 1e3, 3., 6.8523015e+5, !!str 5, !!float 2, !!binary aGk=, !!null "", on, off, yes, 2]')
    path = write(tmp_path, f"""
        cases:
          - id: x
            tags: {tags}
        """)
    (raw,) = read_file(path)
    expected = yaml.safe_load(tags)
    assert expected[19] == "1e3"
    expected[19] = 1000.0  # the one deliberate difference: YAML 1.2's dotless float is a number
    got = raw.node["tags"]
    assert [type(v) for v in got] == [type(v) for v in expected]
    assert [repr(v) for v in got] == [repr(v) for v in expected]


def test_merge_keys_give_way_to_the_mappings_own_keys(tmp_path: Path) -> None:
    path = write(tmp_path, """
        cases:
          - id: a
            op: max_pool
            input: {shape: [1, 1, 8], generator: {kind: randn}}
            params: &base {kernel_size: 2, stride: 2}
          - id: b
            op: max_pool
            input: {shape: [1, 1, 8], generator: {kind: randn}}
            params: {<<: *base, stride: 1}
          - id: c
            op: max_pool
            input: {shape: [1, 1, 8], generator: {kind: randn}}
            params: {<<: [{kernel_size: 3}, *base], padding: 1}
        """)
    a, b, c = (case.params for case in load_cases([str(path)]))
    assert (a.kernel_size, a.stride) == ((2,), (2,))
    assert (b.kernel_size, b.stride) == ((2,), (1,))  # own key over the merged one
    assert (c.kernel_size, c.stride, c.padding) == ((3,), (2,), ((1, 1),))  # the first source wins
    bad = path.read_text().replace("stride: 2}", "stride: 0}")
    errors = errors_of(tmp_path, bad)  # a merged value is reported where it is written
    assert errors and all("c.yaml:5:" in e and "params.stride" in e for e in errors)


def test_unsupported_yaml_tags_are_refused(tmp_path: Path) -> None:
    for body in ("cases:\n  - !!set {a, b}\n", "cases:\n  - id: a\n    params: !!python/object:os.system {a: 1}\n",
                 "cases:\n  - id: a\n    params: {<<: 5}\n", "cases:\n  - id: a\n    input: *nowhere\n",
                 "cases:\n  - {[a]: 1}\n", "cases:\n  - ? {a: 1}\n    : 2\n"):
        (error,) = errors_of(tmp_path, body)
        assert "c.yaml:" in error and "invalid YAML" in error


def test_mangled_case_files_fail_cleanly(tmp_path: Path) -> None:
    """Mutants of the shipped files (cut, pasted and YAML-punctuated at random, fixed seed) either
    load or fail as CaseErrors of one line each: never a traceback."""
    import random

    rng = random.Random(7)
    sources = [p.read_text() for p in sorted(Path("cases").glob("*.yaml"))]
    pieces = list(":-[]{}&*!<>|'\"#?,\n ") + ["<<: ", "!!", "&x ", "*x", "? ", "- ", "~", ".nan", "matrix: ", "params: ", "{}"]
    path = tmp_path / "c.yaml"
    for _ in range(300):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 5)):
            at, roll = rng.randrange(len(text)), rng.random()
            if roll < 0.35:
                text = text[:at] + text[at + rng.randint(1, 20):]
            elif roll < 0.8:
                text = text[:at] + rng.choice(pieces) + text[at:]
            else:
                src = rng.randrange(len(text))
                text = text[:at] + text[src : src + rng.randint(1, 40)] + text[at:]
        path.write_text(text)
        try:
            load_cases([str(path)])
        except CaseErrors as exc:
            assert all("\n" not in str(e) and str(e).startswith(str(path)) for e in exc.errors), text


EIGHT_BIT = [
    ('input: {shape: [1, 1, 2, 2], dtype: uint8, values: [[[[0, 255], [256, 1]]]]}',
     ["input.values", "256 does not fit uint8 (range 0 to 255)"]),
    ('input: {shape: [1, 1, 2, 2], dtype: int8, generator: {kind: randint, low: -5, high: 5}, inject: [{value: 200, at: [[0, 0, 0, 0]]}]}',
     ["input.inject[0].value", "200 does not fit int8 (range -128 to 127)"]),
    ('input: {shape: [1, 1, 2, 2], dtype: int8, generator: {kind: randint, low: -5, high: 5}, inject: [{value: 1.5, fraction: 0.5}]}',
     ["input.inject[0].value", "int8 input cannot hold 1.5"]),
    ('input: {shape: [1, 1, 2, 2], dtype: uint8, generator: {kind: randn}}',
     ["input.generator", "reach -6, which does not fit uint8"]),
]


@pytest.mark.parametrize("inp,expected", EIGHT_BIT)
def test_eight_bit_inputs_refuse_values_outside_their_range(tmp_path: Path, inp: str, expected: list[str]) -> None:
    [line] = errors_of(tmp_path, f"cases:\n  - id: a\n    op: max_pool\n    {inp}\n    params: {{kernel_size: 2}}\n")
    for part in expected:
        assert part in line, line


def test_expectations_in_every_form(tmp_path: Path) -> None:
    """A verdict, a list of one (the same, strict) and a list of outcomes (machine-dependent)."""
    body = "cases:\n" + "".join(
        f"  - id: {cid}\n    op: max_pool\n    {GOOD_INPUT}\n    params: {{kernel_size: 2}}\n"
        f"    expect: {{jax: {{verdict: {verdict}, reason: why{extra}}}}}\n"
        for cid, verdict, extra in (("one", "error", ""), ("listed", "[error]", ""),
                                    ("either", "[error, pass]", ", condition: oneDNN on")))
    path = tmp_path / "c.yaml"
    path.write_text(body)
    got = {c.id: c.expect["jax"] for c in normalise(read_file(path))}
    assert got["one"] == got["listed"]
    assert got["one"].verdicts == ("error",) and not got["one"].machine_dependent
    assert got["either"].verdicts == ("error", "pass") and got["either"].machine_dependent
    assert got["either"].condition == "oneDNN on"
    assert got["either"].as_record() == {"verdict": ["error", "pass"], "reason": "why", "link": None,
                                         "condition": "oneDNN on", "machine_dependent": True}


def test_when_limits_an_expectation_to_some_of_a_matrix(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(f"""
        cases:
          - id: m
            op: max_pool
            {GOOD_INPUT}
            matrix: {{op: [max_pool, avg_pool], kernel_size: [2, 3], stride: [1, 2]}}
            expect:
              jax: {{verdict: error, reason: r, when: [{{op: avg_pool, kernel_size: 3}}, {{stride: 1, kernel_size: 2}}]}}
              torch: {{verdict: error, reason: r}}
    """))
    cases = {c.id: c for c in normalise(read_file(path))}
    assert len(cases) == 8 and all("torch" in c.expect for c in cases.values())
    assert sorted(cid for cid, c in cases.items() if "jax" in c.expect) == [
        "m-avg_pool-k2-s1", "m-avg_pool-k3-s1", "m-avg_pool-k3-s2", "m-max_pool-k2-s1"]
