"""`load_yaml` reads YAML as Helm does: every case is checked against Helm's own reader
(sigs.k8s.io/yaml over go-yaml v2, through helm-python-sdk's `values_from_yaml`), not against a
table of what we believe Go does.

Equality is strict about types: Go's `1` is not `1.0` and `true` is not `1`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from benchmarks.generate import generate
from chartimpact_bot.core import yamlio
from chartimpact_bot.core.documents import is_emitted, split_documents
from chartimpact_bot.core.go_yaml import GoResolver, build
from chartimpact_bot.core.yamlio import load_untrusted, load_yaml
from tests.conftest import chart_yaml, write_files
from tests.test_signals_golden import CASES as GOLDEN_CASES

# One document per case, as a values file or a manifest writes it.
CASES = [
    # booleans: YAML 1.1's words, as go-yaml v2 lists them
    "v: y",
    "v: n",
    "v: Y",
    "v: N",
    "v: yes",
    "v: No",
    "v: on",
    "v: OFF",
    "v: On",
    "v: TRUE",
    "v: True",
    "v: tRue",
    "v: yEs",
    # integers in every base Go's ParseInt(s, 0, 64) reads, with and without underscores
    "v: 0755",
    "v: 0o755",
    "v: 0O17",
    "v: 08",
    "v: 0x_1F",
    "v: 0X1F",
    "v: -0x1F",
    "v: 0b101",
    "v: 0B101",
    "v: -0b11",
    "v: 1_000",
    "v: 1__0",
    "v: 0b_",
    "v: 0x",
    "v: _1",
    "v: -0",
    "v: +12",
    "v: 00",
    # floats, exponents, and integral floats that JSON writes as integers
    "v: 1e3",
    "v: 1E3",
    "v: 1.5e3",
    "v: 1e+3",
    "v: 1e-3",
    "v: 1e-7",
    "v: 1.0",
    "v: 1.",
    "v: .5",
    "v: +.5",
    "v: -.5e3",
    "v: ._5",
    "v: .5_0",
    "v: -0.0",
    "v: 0.1",
    "v: 3.14159265358979323846",
    "v: 1e20",
    "v: 1e21",
    "v: 1e400",
    "v: 1e-400",
    "v: 6.02e+23",
    # integers beyond 2^53 and 2^63, rounded as a float64 is
    "v: 9007199254740993",
    "v: 9223372036854775807",
    "v: 9223372036854775808",
    "v: 18446744073709551616",
    "v: -0x8000000000000001",
    "v: 123456789012345678901234567890",
    # what stays text: timestamps, base 60, `=`, and nulls
    "v: 2024-01-01",
    "v: 2024-01-01T10:00:00Z",
    "v: 1:30",
    "v: 12:30:00",
    "v: 190:20:30",
    "v: =",
    "v: 1,000",
    "v: ~",
    "v: null",
    "v: Null",
    "v: NULL",
    "v: nUll",
    "v:",
    # quoted scalars are text whatever they look like
    'v: "123"',
    "v: '1e3'",
    "v: 'y'",
    'v: "null"',
    "v: |\n  0x1F\n",
    # explicit tags
    "v: !!str 123",
    'v: !!int "12"',
    'v: !!float "1"',
    "v: !!float 1e3",
    'v: !!bool "yes"',
    'v: !!null ""',
    "v: !!str",
    "v: !!timestamp 2024-01-01",
    "v: !foo 123",
    "v: !foo {a: 1}",
    "v: !!set {a, b}",
    "v: !!omap [{a: 1}]",
    'v: ! "12"',
    # !!binary is decoded; bytes that are not UTF-8 become U+FFFD, one each
    "v: !!binary aGVsbG8=",
    "v: !!binary |\n  aGVs\n  bG8=\n",
    "v: !!binary 4pyTIMOgIGxhIG1vZGU=",
    "v: !!binary 4pw=",
    "v: !!binary aGl=",
    'v: !!binary ""',
    # keys are text, written as Go writes them
    "y: 1",
    "1: a",
    "true: a",
    "0x10: a",
    "1e3: a",
    "1.5: a",
    "1.0: a",
    "3.14159265358979: a",
    "1e6: a",
    "1234567.0: a",
    "0.00001: a",
    ".inf: a",
    ".Inf: a",
    "9223372036854775807: a",
    "-9223372036854775809: a",
    "!!float 1: a",
    "2024-01-01: a",
    "!!binary aGk=: a",
    # merge keys: go-yaml v2 sets the merged keys in place, the earlier map of a list winning
    "<<: {a: 1}\nb: 2",
    "a: 1\n<<: {a: 2}",
    "<<: {a: 2}\na: 1",
    "<<: [{a: 1}, {a: 2, b: 2}]",
    "x: &x {a: 1}\nw:\n  <<: *x\n  b: 2",
    '"<<": {a: 1}',
    # aliases, duplicates
    "a: &a [1, 2]\nb: *a",
    "v: &a 1\nw: *a",
    "a: 1\na: 2",
]

# Where we part from Go on purpose, with what we give instead. Go fails on all but the last:
# encoding/json cannot write infinities or NaN, and sigs.k8s.io/yaml refuses null and uint64 keys.
# A render must not fail on them (docs/adr/0007-yaml-reader.md).
DIVERGENCES: dict[str, Any] = {
    "v: .inf": {"v": ".inf"},
    "v: -.inf": {"v": "-.inf"},
    "v: .NaN": {"v": ".NaN"},
    "v: !!float .inf": {"v": ".inf"},
    "~: a": {"null": "a"},
    "null: a": {"null": "a"},
    "9223372036854775808: a": {"9223372036854775808": "a"},
    # libyaml reports the non-specific tag `!` on a plain scalar as no tag at all.
    "v: ! 12": {"v": 12},
}

# Go refuses these, and so do we.
REFUSED = [
    'v: !!int "1.5"',
    "v: !!int x",
    "v: !!bool 1",
    'v: !!null "x"',
    "v: !!timestamp x",
    "v: !!binary aGk",
    "v: !!binary aGk==",
    'v: !!binary "aG k="',
    "? [a, b]\n: 1",
    "<<: 1",
    "<<: [{a: 1}, 2]",
]


def strict(value: Any) -> Any:
    """The value with the type of every scalar beside it, so that 1 != 1.0 != True."""
    if isinstance(value, dict):
        return {(type(k).__name__, k): strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return (type(value).__name__, value)


def go(text: str) -> Any:
    return helm_python.values_from_yaml(text + "\n")


class PythonLoader(yamlio._PythonComposer, GoResolver):  # what load_yaml uses without libyaml
    pass


def load_without_libyaml(text: str) -> Any:
    node = PythonLoader(text).get_single_node()
    return None if node is None else build(node)


@pytest.mark.parametrize("text", CASES)
def test_reads_as_helm_does(text: str) -> None:
    assert strict(load_yaml(text)) == strict(go(text))


@pytest.mark.parametrize("text", CASES)
def test_pure_python_composer_reads_the_same(text: str) -> None:
    assert strict(load_without_libyaml(text)) == strict(load_yaml(text))


@pytest.mark.parametrize("text", sorted(DIVERGENCES))
def test_documented_divergences(text: str) -> None:
    ours = load_yaml(text)
    assert strict(ours) == strict(DIVERGENCES[text])
    try:
        theirs = go(text)
    except helm_python.HelmValuesError:
        return
    assert text == "v: ! 12" and theirs == {"v": "12"}  # the one Go reads and we read otherwise


@pytest.mark.parametrize("text", REFUSED)
def test_refuses_what_helm_refuses(text: str) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        go(text)
    with pytest.raises(yaml.YAMLError):
        load_yaml(text)


def test_the_table_is_wide() -> None:
    assert len(CASES) >= 45


def _scalars(count: int, seed: int) -> list[str]:
    """Plain scalars built from the characters that make numbers, seeded."""
    rng = random.Random(seed)
    alphabet = "0123456789" * 3 + "_._.eE+-xXoObB" + "aFyn"
    out: list[str] = []
    while len(out) < count:
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        if text[0] in "-" and len(text) == 1:
            continue
        out.append(text)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_generated_numbers_read_as_helm_does(seed: int) -> None:
    """Hundreds of number-like scalars, as values and as keys, each against Go's reader."""
    differences = []
    for text in _scalars(150, seed):
        for document in (f"v: {text}", f"{text}: v"):
            try:
                theirs = go(document)
            except helm_python.HelmValuesError:
                continue  # an infinity, or a key Go refuses: see the divergences above
            if strict(load_yaml(document)) != strict(theirs):
                differences.append((document, load_yaml(document), theirs))
    assert differences == []


def test_merges_of_merges_are_built_once() -> None:
    """Each level merges the one before twice: rebuilt at each merge, as go-yaml decodes it,
    this would be 2^40 merges."""
    lines = ["l0: &l0 {k0: 0}"]
    lines += [f"l{i}: &l{i} {{<<: [*l{i - 1}, *l{i - 1}], k{i}: {i}}}" for i in range(1, 41)]
    document = "\n".join(lines)
    assert load_yaml(document)["l40"] == {f"k{i}": i for i in range(41)}
    assert strict(load_yaml("\n".join(lines[:8]))) == strict(go("\n".join(lines[:8])))


def test_a_map_merging_itself_merges_what_it_has() -> None:
    assert load_yaml("a: &a {b: 1, <<: *a, c: 2}") == {"a": {"b": 1, "c": 2}}


def test_untrusted_documents_read_the_same_way() -> None:
    assert load_untrusted("a: y\nb: 0o755\n1: x\n") == {"a": True, "b": 493, "1": "x"}


def _documents(outputs: dict[str, str], name: str) -> list[tuple[str, str]]:
    return [
        (f"{name}: {source}", chunk)
        for source, text in sorted(outputs.items())
        if is_emitted(source, text)
        for _, chunk in split_documents(text)
        if chunk.strip()
    ]


def test_golden_renders_read_as_helm_does(tmp_path: Path) -> None:
    """Every document the golden charts render (the Helm engine renders them), read by both."""
    documents = []
    for index, (name, case) in enumerate(GOLDEN_CASES):
        for side in ("base", "head"):
            files = {
                "Chart.yaml": chart_yaml("golden", extra=(case.get("chart") or {}).get(side, "")),
                "values.yaml": (case.get("values") or {}).get(side, ""),
            }
            if case.get(side):
                files["templates/manifest.yaml"] = case[side]
            chart_dir = write_files(tmp_path / f"{index}-{side}" / "golden", files)
            try:
                with helm_python.Chart.load(chart_dir) as chart:
                    outputs = chart.render(name="golden")
            except helm_python.HelmError:
                continue  # a case about a chart that does not render
            documents += _documents(outputs, f"{name} ({side})")
    assert len(documents) > 250
    assert [name for name, text in documents if strict(load_yaml(text)) != strict(go(text))] == []


def test_benchmark_chart_reads_as_helm_does(tmp_path: Path) -> None:
    """The generated chart pair of benchmarks/ (no template actions: its templates are its output)."""
    documents = []
    pair = generate(tmp_path)
    for chart_dir in (pair.base_dir, pair.head_dir):
        outputs = {f"bench/templates/{p.name}": p.read_text() for p in (chart_dir / "templates").iterdir()}
        documents += _documents(outputs, chart_dir.parent.parent.name)
    assert len(documents) > 500
    assert [name for name, text in documents if strict(load_yaml(text)) != strict(go(text))] == []
