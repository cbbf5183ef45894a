"""The result cache's codec (jobs/report_codec.py) on real reports: those of the example chart and
of golden signal cases, rendered by the real Helm engine."""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path

import msgspec
import pytest

from chartimpact_bot.core.config_file import load_config
from chartimpact_bot.core.model import Report, Revision
from chartimpact_bot.core.report import json as report_json
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.report.text import render_text
from chartimpact_bot.engine.pipeline import PipelineOptions
from chartimpact_bot.github.checks import build_output
from chartimpact_bot.github.comments import comment_body
from chartimpact_bot.jobs import report_codec
from chartimpact_bot.jobs.report_codec import FORMAT, UnreadableEntry, decode_report, encode_report
from tests.conftest import diff_dirs
from tests.test_signals_golden import CASES, _chart

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "charts"
# The first cases of every family: secrets, probes, RBAC, upgrades and patterns, in a few seconds.
SAMPLE = [case for n, (name, case) in enumerate(CASES) if n % 7 == 0]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, renderer: object) -> Report:
    """One report holding the example chart's analysis and a sample of the golden cases'."""
    options = PipelineOptions(renderer=renderer)  # type: ignore[arg-type]
    example = diff_dirs(EXAMPLES / "base" / "storefront", EXAMPLES / "head" / "storefront", options)
    charts = list(example.charts)
    for n, case in enumerate(SAMPLE):
        root = tmp_path_factory.mktemp(f"case{n}")
        config = load_config(case["config"]) if case.get("config") else None
        golden = diff_dirs(_chart(root, case, "base"), _chart(root, case, "head"), options, config)
        charts += [dataclasses.replace(c, path=f"golden/{n}") for c in golden.charts]
    return dataclasses.replace(
        example, charts=tuple(charts), base=Revision("main", "a" * 40), head=Revision("feature", "b" * 40)
    )


def test_the_sample_is_a_real_report_with_signals_and_secrets(report: Report) -> None:
    signals = [s for c in report.charts for s in c.signals]
    assert len({s.category for s in signals}) == 4
    assert any(c.diff and c.diff.resources for c in report.charts)
    assert "(sensitive value changed, sha256:" in report_json.dumps(report)


def test_a_report_comes_back_equal_and_renders_byte_for_byte_the_same(report: Report) -> None:
    payload = encode_report(report)
    assert payload is not None and payload.startswith(FORMAT)
    decoded = decode_report(payload)
    # Resource compares by identity (eq=False), so compare the whole tree of values.
    assert dataclasses.astuple(decoded) == dataclasses.astuple(report)
    assert report_json.dumps(decoded) == report_json.dumps(report)
    assert render_markdown(decoded) == render_markdown(report)
    assert render_text(decoded) == render_text(report)
    assert build_output(decoded, head_paths=set(), problems=[]) == build_output(report, head_paths=set(), problems=[])
    url = "https://github.com/acme/charts/runs/1"
    assert comment_body(decoded, check_run_url=url, max_signals=5) == comment_body(
        report, check_run_url=url, max_signals=5
    )


def test_encoding_is_deterministic_and_keeps_the_order_of_keys(report: Report) -> None:
    payload = encode_report(report)
    assert payload is not None
    assert encode_report(decode_report(payload)) == payload
    body = next(d.head.body for c in report.charts if c.diff for d in c.diff.resources if d.head is not None)
    decoded = decode_report(payload)
    again = next(d.head.body for c in decoded.charts if c.diff for d in c.diff.resources if d.head is not None)
    assert list(again) == list(body)


def _with_value(report: Report, value: object) -> Report:
    chart = next(c for c in report.charts if c.signals)
    signal = dataclasses.replace(chart.signals[0], after=value)
    changed = dataclasses.replace(chart, signals=(signal, *chart.signals[1:]))
    return dataclasses.replace(report, charts=tuple(changed if c is chart else c for c in report.charts))


@pytest.mark.parametrize("value", [("a", "b"), {"k": {1, 2}}, 2**70, {1.5: "x"}, {None: 1}, b"raw"])
def test_a_value_msgpack_would_change_is_not_stored(report: Report, value: object) -> None:
    assert encode_report(_with_value(report, value)) is None


def test_integer_keys_and_nested_values_are_kept(report: Report) -> None:
    value = {"replicas": 3, 80: [{"port": 80, "ok": True, "ratio": 0.5, "none": None}]}
    payload = encode_report(_with_value(report, value))
    assert payload is not None
    assert dataclasses.astuple(decode_report(payload)) == dataclasses.astuple(_with_value(report, value))


def test_a_report_too_large_is_simply_not_stored(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = encode_report(report)
    assert payload is not None
    monkeypatch.setattr(report_codec, "MAX_PAYLOAD_BYTES", len(payload) - 1)
    assert encode_report(report) is None


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x02" + zlib.compress(b"x"),  # another format
        FORMAT + b"not zlib at all",
        FORMAT + zlib.compress(msgspec.msgpack.encode({"charts": "no"})),  # not a Report
        FORMAT + zlib.compress(msgspec.msgpack.encode([1, 2, 3])),
        FORMAT + zlib.compress(b"\xc1"),  # never valid MessagePack
    ],
)
def test_anything_else_is_an_unreadable_entry(payload: bytes) -> None:
    with pytest.raises(UnreadableEntry):
        decode_report(payload)


def test_a_truncated_or_padded_payload_is_unreadable(report: Report) -> None:
    payload = encode_report(report)
    assert payload is not None
    for broken in (payload[:-10], payload + b"trailing", payload[: len(payload) // 2]):
        with pytest.raises(UnreadableEntry):
            decode_report(broken)


def test_a_compression_bomb_stops_at_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_codec, "MAX_REPORT_BYTES", 1024 * 1024)
    bomb = FORMAT + zlib.compress(b"\0" * (16 * 1024 * 1024), 9)  # 16 MB from 16 KB
    assert len(bomb) < 64 * 1024
    with pytest.raises(UnreadableEntry, match="too large"):
        decode_report(bomb)
