"""Signed, expiring links to a stored report page (CONTRACT §4 `GET /reports/{id}`, issue 12 point 3).

A report of a private repository must not leak through its link, so a link is
`/reports/{id}?exp=<unix seconds>&sig=<base64url>`: `sig` is an HMAC-SHA256, under a key only the
App holds, of the report's id, the installation the report belongs to and the expiry. Whoever
changes any of the three (a later expiry, another report's id) has a link that no longer verifies;
a link of one installation's report never opens another's, since the installation is read from
the stored report, not from the link. The check run and the comment carry fresh links on every run,
so a link only has to outlive the review it is for.

The key is derived from the App's own secret material under a label of its own (as the
fingerprint key is, fingerprint_key.py, under another label): every instance of one deployment
verifies the links of every other, and neither key tells anything about the other.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .core.errors import ConfigError

_LABEL = b"chartimpact report links v1"
DEFAULT_LIFETIME_SECONDS = 30 * 24 * 3600
_SIGNATURE_BYTES = 32
# The longest expiry a link can carry, in decimal digits: far beyond any real one, and it keeps
# what is parsed from a query string small.
_MAX_EXPIRY_DIGITS = 12


def derive_link_key(private_key: str | None, webhook_secret: str | None) -> bytes:
    """The key of report links, from the App's private key (or, without one, its webhook secret);
    ConfigError when it has neither."""
    material = private_key or webhook_secret
    if not material:
        raise ConfigError("no key for report links: set GITHUB_PRIVATE_KEY or GITHUB_WEBHOOK_SECRET")
    return hmac.new(material.strip().encode(), _LABEL, hashlib.sha256).digest()


class Check(enum.Enum):
    """What a link's query says of the report it names."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # tampered, made for another report, or not a link of ours at all


@dataclass(frozen=True, slots=True)
class ReportLinks:
    key: bytes
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS

    def query(self, report_id: str, installation_id: int, now: float) -> dict[str, str]:
        """The query of a fresh link to the report: `exp` and `sig`."""
        expires = int(now) + self.lifetime_seconds
        return {"exp": str(expires), "sig": _encode(self._signature(report_id, installation_id, expires))}

    def url(self, base_url: str, report_id: str, installation_id: int, now: float) -> str:
        """A fresh link to the report page below the App's public base URL."""
        query = urlencode(self.query(report_id, installation_id, now))
        return f"{base_url.rstrip('/')}/reports/{quote(report_id, safe='')}?{query}"

    def check(
        self, report_id: str, installation_id: int, expiry: str | None, signature: str | None, now: float
    ) -> Check:
        """Whether the query (`exp`, `sig`, as the request carried them, or None when missing) opens
        the stored report `report_id` of `installation_id`. Never raises for what a request sent."""
        if expiry is None or signature is None:
            return Check.INVALID
        # Canonical decimal only (no leading zero): one expiry, one spelling of it.
        if not (0 < len(expiry) <= _MAX_EXPIRY_DIGITS and expiry.isascii() and expiry.isdigit()) or expiry[0] == "0":
            return Check.INVALID
        given = _decode(signature)
        if given is None or not hmac.compare_digest(given, self._signature(report_id, installation_id, int(expiry))):
            return Check.INVALID
        # Only a link we signed can say it expired: anyone could write an old `exp`.
        return Check.EXPIRED if int(expiry) <= now else Check.VALID

    def _signature(self, report_id: str, installation_id: int, expires: int) -> bytes:
        # One field per line: no id can end in what would be the start of the next field.
        message = f"{report_id}\n{installation_id}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).digest()


def _encode(signature: bytes) -> str:
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _decode(text: str) -> bytes | None:
    """The signature's bytes; None unless `text` is exactly one, unpadded base64url."""
    if len(text) != 43 or not text.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _SIGNATURE_BYTES and _encode(raw) == text else None
