"""`REPORT_AUTH=github` (issue 12 point 3): a valid link is not enough; the viewer signs in with
GitHub through the App's OAuth client and must be able to read the repository."""

from __future__ import annotations

import re
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


async def _sign_in(app: AppUnderTest, page: str, login: str) -> None:
    """Through GitHub's authorization (the fake's), as `login`, who can read the repository."""
    response = await app.client.get(page, allow_redirects=False)
    if response.status == 200:  # REPORT_AUTH=signed: start from a form post instead
        response = await app.client.post(
            page.split("?", maxsplit=1)[0] + "/acknowledgements", data=_form(page, "0" * 16, ""), allow_redirects=False
        )
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    app.fake.oauth_codes[f"code-{login}"] = login
    app.fake.readers.add(login)
    back = await _back_from_github(app, state, f"code-{login}")
    assert back.status == 302


def _form(page: str, signal_id: str, token: str, change: str = "ack", reason: str = "") -> dict[str, str]:
    query = {k: v[0] for k, v in parse_qs(urlsplit(page).query).items()}
    return {
        "exp": query["exp"],
        "sig": query["sig"],
        "signal": signal_id,
        "change": change,
        "token": token,
        "reason": reason,
    }


def _token_and_signal(html: str) -> tuple[str, str]:
    token = re.search(r'name="token" value="([0-9a-f]*)"', html)
    signal = re.search(r"<code>security\.exposure\.type</code> · id <code>([0-9a-f]{16})</code>", html)
    assert token and signal
    return token.group(1), signal.group(1)


async def test_a_writer_acknowledges_from_the_report_page(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC, oauth_client_id="Iv1.0123456789abcdef", oauth_client_secret="oauth-secret")
    _, head, payload = open_shop_pull(repo, serviceType="LoadBalancer")
    await app.deliver("pull_request", payload)
    await app.settle()
    (run,) = app.fake.runs_for(head)
    page = run["details_url"].removeprefix(PUBLIC)
    html = await (await app.client.get(page)).text()
    token, signal_id = _token_and_signal(html)
    assert token == ""  # not signed in: posting the form starts the sign-in
    refused = await app.client.post(
        page.split("?")[0] + "/acknowledgements", data=_form(page, signal_id, "x"), allow_redirects=False
    )
    assert refused.status == 302 and "/login/oauth/authorize" in refused.headers["Location"]

    await _sign_in(app, page, "alice")
    app.fake.permissions["alice"] = "write"
    token, _ = _token_and_signal(await (await app.client.get(page)).text())
    assert re.fullmatch("[0-9a-f]{64}", token)
    forged = await app.client.post(
        page.split("?")[0] + "/acknowledgements", data=_form(page, signal_id, "0" * 64), allow_redirects=False
    )
    assert forged.status == 403
    done = await app.client.post(
        page.split("?")[0] + "/acknowledgements",
        data=_form(page, signal_id, token, reason="known"),
        allow_redirects=False,
    )
    assert done.status == 303
    assert done.headers["Location"] == f"{page}#signal-{signal_id}"
    await app.settle()
    assert app.fake.runs_for(head)[-1]["conclusion"] == "success"
    log = await app.queue.store.acknowledgement_log("acme/charts")
    assert [(e.signal_id, e.by, e.via, e.reason) for e in log.items] == [(signal_id, "alice", "page", "known")]
    after = await (await app.client.get(page)).text()
    assert "Withdraw the acknowledgement" in after and "acknowledged by @alice: known" in after


async def test_a_reader_cannot_acknowledge_from_the_page(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC, oauth_client_id="Iv1.0123456789abcdef", oauth_client_secret="oauth-secret")
    _, head, payload = open_shop_pull(repo, serviceType="LoadBalancer")
    await app.deliver("pull_request", payload)
    await app.settle()
    page = app.fake.runs_for(head)[0]["details_url"].removeprefix(PUBLIC)
    await _sign_in(app, page, "bob")
    app.fake.permissions["bob"] = "read"
    token, signal_id = _token_and_signal(await (await app.client.get(page)).text())
    answer = await app.client.post(
        page.split("?")[0] + "/acknowledgements", data=_form(page, signal_id, token), allow_redirects=False
    )
    assert answer.status == 403
    assert "Only people with write access to acme/charts can acknowledge" in await answer.text()
    await app.settle()
    assert len(app.fake.runs_for(head)) == 1
    assert (await app.queue.store.acknowledgement_log("acme/charts")).items == []


async def test_without_an_oauth_client_the_page_offers_no_form(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC)
    _, head, payload = open_shop_pull(repo, serviceType="LoadBalancer")
    await app.deliver("pull_request", payload)
    await app.settle()
    page = app.fake.runs_for(head)[0]["details_url"].removeprefix(PUBLIC)
    assert 'class="acknowledge"' not in await (await app.client.get(page)).text()
    assert (await app.client.get("/auth/callback?code=x&state=y")).status == 404
