"""versions.toml (the version sets of `nox -s matrix`) against constraints.txt and the noxfile."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

noxfile = pytest.importorskip("noxfile", reason="nox is not installed (it is in the test extra)")


def pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def test_each_set_is_constraints_txt_with_its_own_pins_replaced() -> None:
    pinned = pins((ROOT / "constraints.txt").read_text())
    names = list(noxfile.VERSION_SETS)
    assert names[0] == "pinned" and noxfile.VERSION_SETS["pinned"] == {}
    for name, overrides in noxfile.VERSION_SETS.items():
        derived = pins(noxfile.matrix_constraints(name))
        assert derived == {**pinned, **{k.lower(): v for k, v in overrides.items()}}, name
        assert "torch" not in overrides  # other torch versions resolve to CUDA builds (versions.toml says why)


def test_at_least_two_versions_of_each_framework_family() -> None:
    pinned = pins((ROOT / "constraints.txt").read_text())
    seen: dict[str, set[str]] = {}
    for name in noxfile.VERSION_SETS:
        for package, version in pins(noxfile.matrix_constraints(name)).items():
            seen.setdefault(package, set()).add(version)
    assert {p: len(seen[p]) >= 2 for p in ("jax", "jaxlib", "tensorflow-cpu", "keras")} == dict.fromkeys(
        ("jax", "jaxlib", "tensorflow-cpu", "keras"), True)
    assert seen["torch"] == {pinned["torch"]}


def test_a_set_naming_an_unpinned_package_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(noxfile.VERSION_SETS, "bad", {"optax": "0.2.8"})
    with pytest.raises(ValueError, match=r"versions.toml \[bad\]: not pinned in constraints.txt: optax"):
        noxfile.matrix_constraints("bad")


def test_nox_has_one_matrix_session_per_set() -> None:
    proc = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", "-s", "matrix"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = [s["session"] for s in json.loads(proc.stdout)]
    assert listed == [f"matrix({name})" for name in noxfile.VERSION_SETS]
