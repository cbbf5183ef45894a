"""`REPORT_AUTH=github` (issue 12 point 3): a valid link is not enough; the viewer signs in with
GitHub through the App's OAuth client and must be able to read the repository."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientResponse

from chartimpact_bot.settings import SettingsError, load_settings
from tests.github.commands_support import open_shop_pull
from tests.github.conftest import AppUnderTest, MakeApp, Repo

# http: the test client speaks plain HTTP, and over https the cookies are Secure (never sent over http).
PUBLIC = "http://chartimpact.example"


async def _signed_in_app(make_app: MakeApp, repo: Repo) -> tuple[AppUnderTest, str]:
    app = await make_app(
        public_url=PUBLIC,
        report_auth="github",
        oauth_client_id="Iv1.0123456789abcdef",
        oauth_client_secret="oauth-secret",
    )
    _, head, payload = open_shop_pull(repo, serviceType="LoadBalancer")
    await app.deliver("pull_request", payload)
    await app.settle()
    (run,) = app.fake.runs_for(head)
    return app, run["details_url"].removeprefix(PUBLIC)


async def _to_github(app: AppUnderTest, page: str) -> dict[str, str]:
    response = await app.client.get(page, allow_redirects=False)
    assert response.status == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login/oauth/authorize"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    return {k: v[0] for k, v in parse_qs(target.query).items()}


async def _back_from_github(app: AppUnderTest, state: str, code: str) -> ClientResponse:
    return await app.client.get("/auth/callback", params={"code": code, "state": state}, allow_redirects=False)


async def test_a_reader_signs_in_and_sees_the_report(make_app: MakeApp, repo: Repo) -> None:
    app, page = await _signed_in_app(make_app, repo)
    query = await _to_github(app, page)
    assert query["client_id"] == "Iv1.0123456789abcdef"
    assert query["redirect_uri"] == f"{PUBLIC}/auth/callback"
    app.fake.oauth_codes["good-code"] = "alice"
    app.fake.readers.add("alice")
    back = await _back_from_github(app, query["state"], "good-code")
    assert back.status == 302
    assert back.headers["Location"] == page
    assert "HttpOnly" in back.headers.getall("Set-Cookie")[0]
    opened = await app.client.get(page, allow_redirects=False)
    assert opened.status == 200
    assert "Blast radius" in await opened.text()
    asked = [
        c.operation
        for c in app.fake.calls
        if c.operation in ("oauth/access-token", "users/get-authenticated", "repos/get")
    ]
    assert asked == ["oauth/access-token", "users/get-authenticated", "repos/get"]


async def test_someone_who_cannot_read_the_repository_is_refused(make_app: MakeApp, repo: Repo) -> None:
    app, page = await _signed_in_app(make_app, repo)
    query = await _to_github(app, page)
    app.fake.oauth_codes["code"] = "eve"  # signed in, but not a reader
    back = await _back_from_github(app, query["state"], "code")
    assert back.status == 403
    assert "@eve cannot read acme/charts" in await back.text()
    assert (await app.client.get(page, allow_redirects=False)).status == 302  # still no session


async def test_a_forged_or_replayed_sign_in_is_refused(make_app: MakeApp, repo: Repo) -> None:
    app, page = await _signed_in_app(make_app, repo)
    query = await _to_github(app, page)
    app.fake.oauth_codes["code"] = "alice"
    app.fake.readers.add("alice")
    tampered = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    assert (await _back_from_github(app, tampered, "code")).status == 403
    app.client.session.cookie_jar.clear()  # another browser: no nonce cookie of this sign-in
    assert (await _back_from_github(app, query["state"], "code")).status == 403
    bad_code = await _to_github(app, page)
    response = await _back_from_github(app, bad_code["state"], "never-issued")
    assert response.status == 403
    assert "GitHub gave no token" in await response.text()


async def test_without_a_valid_link_nobody_is_sent_to_sign_in(make_app: MakeApp, repo: Repo) -> None:
    app, page = await _signed_in_app(make_app, repo)
    path = page.split("?")[0]
    assert (await app.client.get(f"{path}?exp=1&sig=x", allow_redirects=False)).status == 403


def test_report_auth_github_needs_the_oauth_client() -> None:
    with pytest.raises(SettingsError, match="GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"):
        load_settings({"REPORT_AUTH": "github"})
    with pytest.raises(SettingsError, match="REPORT_AUTH must be signed or github"):
        load_settings({"REPORT_AUTH": "sometimes"})
