"""YAML nodes → Python values, as Helm reads YAML (sigs.k8s.io/yaml over go-yaml v2).

Helm reads a values file, and Kubernetes a manifest, in three steps: go-yaml v2 resolves each
plain scalar with its YAML 1.1-like rules, sigs.k8s.io/yaml turns every mapping key into a
string and the whole into JSON, and encoding/json reads the JSON back, every number as a
float64. The values here are what those three steps leave, in Python:

- booleans are `y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON` and their `n`/`no`/`false`/`off`
  counterparts; nulls are `~|null|Null|NULL` and the empty scalar;
- an integer is what Go's `strconv.ParseInt(s, 0, 64)` (or ParseUint) reads once underscores are
  dropped: `0x1F`, `0X1F`, `0o17`, `017` (octal), `0b101`, `+12`; a float is
  `[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?` (so `1e3`, `08`, `+.5` are numbers), or
  any finite `strconv.ParseFloat` of a scalar that starts with `.`;
- every number is then a float64: an integral one below 1e21 is a Python int (`1.0` → 1,
  `1e3` → 1000, `9007199254740993` → 9007199254740992, as encoding/json writes it), any other a
  float; timestamps and base-60 forms (`2024-01-01`, `1:30`) stay text;
- a key is text: `true`, `1`, or a float written like Go's `FormatFloat(f, 'g', -1, 32)`;
- `!!binary` is decoded (invalid UTF-8 bytes become U+FFFD, one each); `!!str`, `!!int`,
  `!!float`, `!!bool`, `!!null` and `!!timestamp` are checked as Go checks them; any other tag
  is ignored (its scalar is text, its collection a dict or list);
- a `<<` key merges a map, or a list of maps (the earlier winning), into the mapping at its
  place: keys before it are overwritten, keys after it overwrite.

Where Go gives up, a render must not (see docs/adr/0007-yaml-reader.md): `.inf` and `.nan` stay
the text they were written as (encoding/json cannot write them), and a null key is the text
`null`, a key at or above 2^63 its digits (sigs.k8s.io/yaml refuses both).

The composer marks every untagged plain scalar with PLAIN (see GoResolver): the rules above are
applied once per value, here, not by PyYAML's implicit resolvers, which try a list of regular
expressions on every scalar.
"""

from __future__ import annotations

import binascii
import math
import re
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# The tag GoResolver gives an untagged plain scalar: resolved by `resolve_plain` when built.
PLAIN = "tag:chartimpact,2026:plain"
STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_BINARY = "tag:yaml.org,2002:binary"
_MERGE = "tag:yaml.org,2002:merge"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class GoResolver:
    """The resolver half of a PyYAML loader: it only tells plain scalars from the others.

    PyYAML's composers (libyaml's and the pure-Python one) call `resolve` for each untagged node
    (and for the non-specific tag `!`, which libyaml reports as untagged, so `! 12` reads as
    12 where Go reads "12"). Path resolvers are not used, so descending is a no-op."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


# go-yaml's resolveMap; "<<" is not in it (Go looks a map up only for the first characters below).
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_MISSING = object()
_INT_START = frozenset("0123456789+-")
# strconv.ParseInt(s, 0, 64) syntax (base prefixes, a leading 0 for octal), underscores removed.
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_INT_BASES = {"x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2}
# go-yaml's yamlStyleFloat, tried after the integers (so `08` and `1e3` are floats).
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# strconv.ParseFloat of a scalar that starts with "." (underscores only between digits).
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")
# go-yaml's allowedTimestampFormats, for an explicit !!timestamp only: a plain timestamp is
# kept as text in any case, and none of them reads as a number.
_GO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?"
)
_INT64 = 2**63
_UINT64 = 2**64
_EXACT = 2**53  # integers up to this survive float64 unchanged


def resolve_plain(text: str) -> Any:
    """go-yaml v2's value of an untagged plain scalar: str, bool, None, int or float (the int
    as Go's int64 or uint64 holds it, the float possibly infinite or NaN)."""
    word = _WORDS.get(text, _MISSING)
    if word is not _MISSING:
        return word
    first = text[0]
    if first in _INT_START:
        return _number(text)
    if first == "." and _DOT_FLOAT.fullmatch(text):
        value = float(text)
        return value if value not in (math.inf, -math.inf) else text
    return text


def _number(text: str) -> Any:
    plain = text.replace("_", "") if "_" in text else text
    match = _GO_INT.fullmatch(plain)
    if match is not None:
        sign, digits = match.groups()
        if len(digits) > 1 and digits[0] == "0":
            base = _INT_BASES.get(digits[1])
            value = int(digits[2:], base) if base else int(digits, 8)
        else:
            value = int(digits)
        if sign == "-":
            value = -value
        # ParseInt: any sign, int64; ParseUint: no sign, uint64.
        if -_INT64 <= value < _INT64 or (not sign and value < _UINT64):
            return value
    if _GO_FLOAT.fullmatch(plain):
        number = float(plain)
        if not math.isinf(number):  # ParseFloat fails with ErrRange, and Go keeps the text
            return number
    return text


# --- what JSON leaves of a number, and Go's text of a key ----------------------------------


def json_number(value: int | float) -> int | float:
    """A Go number once encoding/json has written it as a float64 and Python's json read it
    back: integral ones below 1e21 as int (written without exponent), others as float."""
    if value.__class__ is int and -_EXACT <= value <= _EXACT:
        return value
    number = float(value)
    if number.is_integer() and abs(number) < 1e21:
        return int(number) if abs(number) <= _EXACT else _shortest_integer(number)
    return number


def _shortest_integer(number: float) -> int:
    """The integer Go writes for a float64 beyond 2^53: the shortest digits that read back as
    it, then zeros (9223372036854775807 → 9223372036854776000); Python's repr has the same
    shortest digits."""
    mantissa, _, exponent = repr(number).partition("e")
    negative = mantissa.startswith("-")
    whole, _, fraction = mantissa.lstrip("-").partition(".")
    digits = int(whole + fraction)
    shift = int(exponent or 0) - len(fraction)
    result = digits * int(10**shift) if shift >= 0 else digits // int(10**-shift)
    return -result if negative else result


def key_text(value: Any) -> str:
    """sigs.k8s.io/yaml's string for a resolved mapping key."""
    if value.__class__ is str:
        return str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"  # Go refuses a null key; JSON's word for it instead
    if value.__class__ is int:
        return str(value)  # at or above 2^63 (uint64) Go refuses it; its digits instead
    return _float32_text(float(value))


def _float32_text(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 32), with go-yaml's names for the infinities."""
    single = _float32(number)
    if math.isnan(single):
        return ".nan"
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1.0, single) < 0 else "0"
    for precision in range(9):  # the fewest significant digits that read back as this float32
        text = f"{single:.{precision}e}"
        if _float32(float(text)) == single:
            break
    mantissa, _, exponent_text = text.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    exponent = int(exponent_text)
    if exponent < -4 or exponent >= 6:  # %e, the exponent in at least two digits
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    whole, fraction = digits[: exponent + 1].ljust(exponent + 1, "0"), digits[exponent + 1 :]
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _float32(number: float) -> float:
    """Go's float32(number): the nearest float32, ties to even (24 significant bits, 2^-149 the
    smallest step), infinite beyond its range."""
    if number == 0 or not math.isfinite(number):
        return number
    mantissa, exponent = math.frexp(number)
    bits = min(24, exponent + 149)
    single = math.ldexp(round(math.ldexp(mantissa, bits)), exponent - bits)
    return single if abs(single) <= _FLOAT32_MAX else math.copysign(math.inf, number)


_FLOAT32_MAX = math.ldexp(2**24 - 1, 104)


# --- building ------------------------------------------------------------------------------


def build(node: Node) -> Any:
    """The value of a composed document (see the module docstring); yaml.YAMLError when Go
    would refuse it (a bad tagged scalar, a list or map as a key, a merge of a non-map)."""
    return _value(node, {})


def _value(node: Node, built: dict[int, Any]) -> Any:
    if node.__class__ is ScalarNode:
        return _scalar(node)
    done = built.get(id(node), _MISSING)
    if done is not _MISSING:  # an alias: the anchored collection, shared (a loop stays a loop)
        return done
    if node.__class__ is MappingNode:
        mapping: dict[str, Any] = {}
        built[id(node)] = mapping
        _fill(node, mapping, built)
        return mapping
    sequence: list[Any] = []
    built[id(node)] = sequence
    append = sequence.append
    for item in node.value:
        append(_scalar(item) if item.__class__ is ScalarNode else _value(item, built))
    return sequence


def _fill(node: Node, mapping: dict[str, Any], built: dict[int, Any]) -> None:
    for key_node, value_node in node.value:
        if key_node.__class__ is not ScalarNode:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, "found a list or map as a key", key_node.start_mark
            )
        tag = key_node.tag
        if tag is PLAIN and not key_node.style:
            text = key_node.value
            if text == "<<":
                _merge(value_node, mapping, built)
                continue
            key = resolve_plain(text)
            if key.__class__ is not str:
                key = key_text(key)
        elif tag is STR:
            key = key_node.value
        elif tag == _MERGE and key_node.value == "<<":
            _merge(value_node, mapping, built)
            continue
        else:
            key = key_text(_tagged(key_node))
        mapping[key] = _scalar(value_node) if value_node.__class__ is ScalarNode else _value(value_node, built)


def _merge(node: Node, mapping: dict[str, Any], built: dict[int, Any]) -> None:
    """go-yaml v2's merge: the map's keys are set in place, over those already there.

    go-yaml decodes the merged map again at every merge; its value is built once here, so that
    maps merging maps that merge maps cost their size, not 2^depth (an alias to a map that is
    still being built, its own merge included, merges what it has so far)."""
    if node.__class__ is MappingNode:
        mapping.update(_value(node, built))
        return
    if node.__class__ is SequenceNode and all(item.__class__ is MappingNode for item in node.value):
        for item in reversed(node.value):  # earlier maps take precedence
            mapping.update(_value(item, built))
        return
    raise yaml.constructor.ConstructorError(
        None, None, "map merge requires map or sequence of maps as the value", node.start_mark
    )


def _scalar(node: Any) -> Any:  # a ScalarNode (Any: the callers test its class, which mypy ignores)
    tag = node.tag
    if tag is PLAIN and not node.style:
        value = resolve_plain(node.value)
    elif tag is STR:
        return node.value
    else:
        value = _tagged(node)
    cls = value.__class__
    if cls is str or cls is bool or value is None:
        return value
    if cls is float and not math.isfinite(value):
        return node.value  # JSON cannot write them: the text, as written
    return json_number(value)


def _tagged(node: Any) -> Any:
    """go-yaml v2's `resolve(tag, value)` and its !!binary decoding, for an explicit tag."""
    tag, text = node.tag, str(node.value)
    if node.__class__ is not ScalarNode:  # Go ignores a tag on a collection; as a key it fails
        raise yaml.constructor.ConstructorError(None, None, "found a list or map as a key", node.start_mark)
    if tag == _BINARY:
        return _binary(text, node)
    if tag not in _CHECKED:
        return text  # !!str, a custom tag, !!map on a scalar, …: go-yaml keeps the text
    value = resolve_plain(text) if text else None
    if tag == _TIMESTAMP:
        if _GO_TIMESTAMP.fullmatch(text):
            return text  # go-yaml gives an interface{} a timestamp's text
    elif _CHECKED[tag](value):
        return float(cast(float, value)) if tag == _FLOAT else value
    raise yaml.constructor.ConstructorError(
        None, None, f"cannot decode {_short(value)} `{text}` as a !!{tag.rsplit(':', 1)[1]}", node.start_mark
    )


# The tags go-yaml resolves and checks (!!str and !!binary are handled before), and the
# resolved values each accepts.
_CHECKED: dict[str, Any] = {
    _BOOL: lambda v: v.__class__ is bool,
    _INT: lambda v: v.__class__ is int,
    _FLOAT: lambda v: v.__class__ in (int, float),  # go-yaml turns an int into a float here
    _NULL: lambda v: v is None,
    _TIMESTAMP: None,  # checked by _GO_TIMESTAMP
}


def _short(value: Any) -> str:
    if value is None:
        return "!!null"
    return {bool: "!!bool", int: "!!int", float: "!!float"}.get(value.__class__, "!!str")


def _binary(text: str, node: Any) -> str:
    try:  # encoding/base64's StdEncoding: padding required, line breaks ignored
        data = binascii.a2b_base64(text.replace("\n", "").replace("\r", ""), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, "!!binary value contains invalid base64 data", node.start_mark
        ) from exc
    # encoding/json writes each byte that is not UTF-8 as U+FFFD, byte by byte.
    return _LONE_SURROGATE.sub("\ufffd", data.decode("utf-8", "surrogateescape"))


_LONE_SURROGATE = re.compile("[\udc80-\udcff]")
