"""The report JSON's text is json.dumps(indent=2, ensure_ascii=False) then the json_safe escapes,
byte for byte, however it is produced (report/json.py writes it through json's C encoder and
msgspec's formatter): on documents that make encoders disagree."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chartimpact_bot.core.report.json import dumps_document, indented
from chartimpact_bot.core.report.safe_text import json_safe

FLOATS = [0.1, 0.5, -0.0, 1.0, 100000.0, 1e15, 1e16, 1e21, 1.5e300, 1.7976931348623157e308, 1e-4, 1e-5, 7.7e-5]
FLOATS += [2.5e-7, 4.4e-9, 1e-10, 5e-324, 123456789.123, 1 / 3]
INTEGERS = [0, -1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**70), 10**30]
TEXT = [
    "".join(map(chr, range(0x20))),  # every C0 control, named and \\u00XX escapes
    "\x7f\x80\x9f\xa0",  # DEL and C1: raw from json.dumps, escaped by json_safe
    "line\u2028separator\u2029paragraph",
    "\u202eevil\u202c \u2066isolate\u2069 \u200e\u200f\u061c",
    'quote " backslash \\ slash / tab \t',
    "é ü 中文 🙂 \U0010ffff",
    "",
]


class Tag(str):
    """A str subclass, as some values are (json writes it as its text)."""


AWKWARD: list[Any] = [
    {},
    [],
    "scalar",
    None,
    True,
    1e-05,
    {"z": 1, "a": 2, "m": {"y": [], "b": {}}},  # insertion order, empty containers
    {"floats": FLOATS, "integers": INTEGERS, "text": TEXT},
    {"nested": [[], [{}], [[[]]], {"a": [{"b": [1, {"c": None}]}]}]},
    {7: "int key", 2.5: "float key", 1e-05: "tiny float key", True: "bool key", None: "null key", "s": 0},
    {"tuple": (1, "two", (3.0,)), "subclass": Tag("tagged"), Tag("key"): False},
    {"deep": json.loads("[" * 200 + "]" * 200)},
    {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},  # json writes NaN, Infinity
    {"surrogate": "\ud800 alone", "pair": "\ud83d\ude00"},  # text no UTF-8 encoder takes
    {f"key{i}": {"value": i * 0.25, "name": f"n{i}\u2028"} for i in range(2000)},
]


@pytest.mark.parametrize("document", AWKWARD, ids=lambda d: json.dumps(d, default=str)[:40])
def test_the_report_text_is_json_dumps_indent_2(document: Any) -> None:
    expected = json.dumps(document, indent=2, ensure_ascii=False)
    assert indented(document) == expected
    if isinstance(document, dict):
        assert dumps_document(document) == json_safe(expected) + "\n"


def test_what_json_cannot_write_fails_as_before() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        indented({"set": {1, 2}})
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(RecursionError):
        indented(nested)
