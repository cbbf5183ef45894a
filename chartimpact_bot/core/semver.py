"""Semantic versions and the constraint syntax Helm uses for dependencies (Masterminds/semver).

Supported: exact and partial versions (`1.2` means 1.2.x), wildcards (`1.2.*`, `1.x`, `*`),
comparisons (`>=1.0 <2.0`, `!=1.3.0`, comma or space separated), tilde (`~1.2.3` → <1.3.0),
caret (`^1.2.3` → <2.0.0, `^0.2.3` → <0.3.0), hyphen ranges (`1.2 - 1.4`), and `||`.
As in Helm, a pre-release satisfies a constraint only when the constraint names a pre-release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(
    r"^v?(?P<major>0|[1-9]\d{0,17})(?:\.(?P<minor>0|[1-9]\d{0,17}))?(?:\.(?P<patch>0|[1-9]\d{0,17}))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_PARTIAL = re.compile(
    r"^v?(?P<major>\d{1,18}|[xX*])(?:\.(?P<minor>\d{1,18}|[xX*]))?(?:\.(?P<patch>\d{1,18}|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_TERM = re.compile(r"^(?P<op>!=|>=|=>|<=|=<|>|<|=|~>|~|\^)?\s*(?P<version>\S+)$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str | int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """A version such as `1.2.3`, `v1.2`, `2.0.0-rc.1`; None when it is not semver."""
        match = _VERSION.match(text.strip())
        if match is None:
            return None
        pre = match.group("pre")
        return cls(
            int(match.group("major")),
            int(match.group("minor") or 0),
            int(match.group("patch") or 0),
            _prerelease(pre) if pre else (),
        )

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric.
        pre = tuple((0, p) if isinstance(p, int) else (1, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return base + ("-" + ".".join(str(p) for p in self.prerelease) if self.prerelease else "")


def _prerelease(text: str) -> tuple[str | int, ...]:
    # Long digit strings stay text: a number of thousands of digits is no version (and Python
    # refuses to convert one), whoever wrote it.
    return tuple(int(p) if p.isdigit() and len(p) <= 18 else p for p in text.split("."))


@dataclass(frozen=True, slots=True)
class _Bound:
    op: str
    version: Version
    ceiling: Version | None = None  # for "out": excluded range [version, ceiling)

    def allows(self, v: Version) -> bool:
        if self.op == "out":
            assert self.ceiling is not None
            return v < self.version or v >= self.ceiling
        if self.op == ">=":
            return v >= self.version
        if self.op == ">":
            return v > self.version
        if self.op == "<=":
            return v <= self.version
        if self.op == "<":
            return v < self.version
        if self.op == "!=":
            return v != self.version
        return v == self.version


class ConstraintError(ValueError):
    """A constraint that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Constraint:
    groups: tuple[tuple[_Bound, ...], ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> Constraint:
        groups = []
        for alternative in (text or "*").split("||"):
            groups.append(tuple(_bounds(alternative.strip())))
        return cls(tuple(groups), text)

    def allows(self, version: Version) -> bool:
        for group in self.groups:
            if version.prerelease and not any(b.version.prerelease for b in group):
                continue
            if all(bound.allows(version) for bound in group):
                return True
        return False

    def best(self, versions: list[str]) -> str | None:
        """The highest of `versions` (as written) that satisfies the constraint."""
        parsed = [(Version.parse(v), v) for v in versions]
        allowed = [(v, raw) for v, raw in parsed if v is not None and self.allows(v)]
        return max(allowed)[1] if allowed else None


def _bounds(text: str) -> list[_Bound]:
    if not text or text in ("*", "x", "X"):
        return []
    hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
    if hyphen:
        low, high = hyphen.groups()
        return [*_expand(">=", low), *_expand("<=", high)]
    terms = [t for t in re.split(r"[,\s]+", _glue_operators(text)) if t]
    bounds: list[_Bound] = []
    for term in terms:
        match = _TERM.match(term)
        if match is None:
            raise ConstraintError(f"'{text}' is not a version constraint")
        bounds.extend(_expand(match.group("op") or "=", match.group("version")))
    return bounds


def _glue_operators(text: str) -> str:
    """`>= 1.2` → `>=1.2`, so terms split on spaces."""
    return re.sub(r"(!=|>=|=>|<=|=<|~>|[<>=~^])\s+", r"\1", text)


def _expand(op: str, text: str) -> list[_Bound]:
    match = _PARTIAL.match(text)
    if match is None:
        raise ConstraintError(f"'{text}' is not a version")
    parts = [match.group("major"), match.group("minor"), match.group("patch")]
    pre = _prerelease(match.group("pre")) if match.group("pre") else ()
    known = []
    for part in parts:
        if part is None or part in ("x", "X", "*"):
            break
        known.append(int(part))
    if not known:
        return [] if op in ("=", ">=", "<=", "~", "~>", "^") else [_Bound("<", Version(0, 0, 0))]
    padded = known + [0] * (3 - len(known))
    floor = Version(padded[0], padded[1], padded[2], pre)
    op = {"=>": ">=", "=<": "<=", "~>": "~"}.get(op, op)
    if op == "^":
        return [_Bound(">=", floor), _Bound("<", _caret_ceiling(known))]
    if op == "~":
        return [_Bound(">=", floor), _Bound("<", _next(known, 0 if len(known) == 1 else 1))]
    if len(known) == 3:
        return [_Bound(op, floor)]
    # Partial versions stand for a range: 1.2 = 1.2.x.
    ceiling = _next(known, len(known) - 1)
    if op == "=":
        return [_Bound(">=", floor), _Bound("<", ceiling)]
    if op == "!=":
        return [_Bound("out", floor, ceiling)]
    if op in (">", "<="):
        return [_Bound(">=" if op == ">" else "<", ceiling)]
    return [_Bound(op, floor)]


def _next(known: list[int], position: int) -> Version:
    """The first version after the range fixed by `known[: position + 1]`."""
    bumped = known[: position + 1]
    bumped[position] += 1
    padded = bumped + [0] * (3 - len(bumped))
    return Version(padded[0], padded[1], padded[2])


def _caret_ceiling(known: list[int]) -> Version:
    """`^` allows changes that do not modify the left-most non-zero part."""
    for position, value in enumerate(known):
        if value != 0:
            return _next(known, position)
    return _next(known, len(known) - 1)
