"""Signed, expiring report links (web/report_links.py): what opens a report and what does not."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from chartimpact_bot.core.errors import ConfigError
from chartimpact_bot.fingerprint_key import derive_app_key
from chartimpact_bot.report_links import Check, ReportLinks, derive_link_key

NOW = 1_800_000_000.0
LINKS = ReportLinks(derive_link_key("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----", None), 3600)


def _link(report_id: str = "r1", installation_id: int = 7) -> tuple[str, str]:
    query = LINKS.query(report_id, installation_id, NOW)
    return query["exp"], query["sig"]


def test_a_fresh_link_opens_its_report_until_it_expires() -> None:
    expiry, signature = _link()
    assert LINKS.check("r1", 7, expiry, signature, NOW) is Check.VALID
    assert LINKS.check("r1", 7, expiry, signature, NOW + 3599) is Check.VALID
    assert LINKS.check("r1", 7, expiry, signature, NOW + 3600) is Check.EXPIRED


def test_a_link_opens_only_the_report_and_installation_it_was_made_for() -> None:
    expiry, signature = _link("r1", 7)
    assert LINKS.check("r2", 7, expiry, signature, NOW) is Check.INVALID
    # the installation comes from the stored report: another installation's report with the same
    # id (or a link made for one installation used on another's report) does not open
    assert LINKS.check("r1", 8, expiry, signature, NOW) is Check.INVALID


def test_a_tampered_link_is_invalid_not_expired() -> None:
    expiry, signature = _link()
    later = str(int(expiry) + 86_400)
    assert LINKS.check("r1", 7, later, signature, NOW) is Check.INVALID
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert LINKS.check("r1", 7, expiry, flipped, NOW) is Check.INVALID
    # an old expiry someone wrote is not "expired": only a link we signed can be
    assert LINKS.check("r1", 7, "1", signature, NOW) is Check.INVALID


def test_fields_cannot_be_shifted_from_one_into_the_next() -> None:
    """id "r1" of installation 7 and id "r1\\n7" of another installation sign different texts."""
    expiry, signature = _link("r1", 7)
    assert LINKS.check("r1\n7", 7, expiry, signature, NOW) is Check.INVALID


def test_a_link_under_another_key_is_invalid() -> None:
    other = ReportLinks(derive_link_key(None, "webhook secret"), 3600)
    expiry, signature = _link()
    assert other.check("r1", 7, expiry, signature, NOW) is Check.INVALID


@pytest.mark.parametrize(
    ("expiry", "signature"),
    [
        (None, None),
        ("1800003600", None),
        (None, "x" * 43),
        ("", "x" * 43),
        ("-1", "x" * 43),
        ("1e9", "x" * 43),
        ("٣٣٣", "x" * 43),  # Arabic-Indic digits: str.isdigit() says yes, int() would take them
        ("9" * 13, "x" * 43),
        ("9" * 100_000, "x" * 43),
        ("1800003600", ""),
        ("1800003600", "x" * 42),
        ("1800003600", "x" * 44),
        ("1800003600", "é" * 43),
        ("1800003600", "!" * 43),
        ("1800003600", "=" * 43),
        ("1800003600", "x" * 10_000_000),
    ],
)
def test_malformed_queries_are_invalid_and_never_raise(expiry: str | None, signature: str | None) -> None:
    assert LINKS.check("r1", 7, expiry, signature, NOW) is Check.INVALID


def test_the_signature_has_one_spelling() -> None:
    """Base64 with padding, or with other bits in the last character's unused positions, decodes
    to the same bytes: only the spelling we write is accepted, so a link has one form."""
    expiry, signature = _link()
    assert LINKS.check("r1", 7, expiry, signature + "=", NOW) is Check.INVALID
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = last.index(signature[-1])
    # the last of 43 characters carries 4 bits of signature and 2 unused ones
    for twin in (last[(index & ~3) + low] for low in range(4)):
        expected = Check.VALID if twin == signature[-1] else Check.INVALID
        assert LINKS.check("r1", 7, expiry, signature[:-1] + twin, NOW) is expected


def test_the_url_carries_the_query_and_a_quoted_id() -> None:
    url = LINKS.url("https://ci.example.com/app/", "a/b c", 7, NOW)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "ci.example.com", "/app/reports/a%2Fb%20c")
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert LINKS.check("a/b c", 7, query["exp"], query["sig"], NOW) is Check.VALID


def test_the_link_key_is_its_own() -> None:
    """Derived from the same secret as the fingerprint key, under another label: a fingerprint
    printed in a public comment tells nothing about the key of links."""
    pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"
    assert derive_link_key(pem, None) != derive_app_key(pem, None)
    assert derive_link_key(pem, "secret") == derive_link_key(pem, None)  # the private key first
    with pytest.raises(ConfigError):
        derive_link_key(None, None)
