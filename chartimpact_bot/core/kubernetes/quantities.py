"""Kubernetes quantities (`500m`, `1Gi`) and int-or-percent values (`25%` of the replicas)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# Decimal suffixes are powers of 1000, binary ones (`Ki`, `Mi`…) powers of 1024.
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    **{suffix: Decimal(1000) ** power for power, suffix in enumerate("kMGTPE", start=1)},
    **{f"{suffix}i": Decimal(1024) ** power for power, suffix in enumerate("KMGTPE", start=1)},
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (`500m`, `1Gi`, `2`, `1e3`) as a number; None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(str(value)) if math.isfinite(value) else None
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]
    except InvalidOperation:
        return None


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int | None:
    """`25%` of `total` (rounded as Kubernetes rounds for the field) or the integer itself."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            share = Decimal(text[:-1]) * total / 100
        except InvalidOperation:
            return None
        return int(share.to_integral_value(rounding="ROUND_CEILING" if round_up else "ROUND_FLOOR"))
    return int(text) if text.isdigit() else None
