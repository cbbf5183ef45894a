"""The report pages, signed links, sign-in and acknowledgements tried as an attacker and a
demanding user would (issue 12): each test names what must hold."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chartimpact_bot.core.model import CATEGORIES
from chartimpact_bot.github import commands
from chartimpact_bot.github.command_runner import MAX_ROUNDS
from chartimpact_bot.report_links import Check, ReportLinks
from chartimpact_bot.web.pages.history import PLOT_MARGIN, PLOT_WIDTH, Entry, _plot
from chartimpact_bot.web.pages.sign_in import MAX_REPOSITORIES, MAX_SESSION_CHARS, session_token, verified
from tests.github.commands_support import comment_created, open_shop_pull, requested_action, shop_files, values
from tests.github.conftest import REPOSITORY, AppUnderTest, MakeApp, Repo, pull_request
from tests.github.test_report_sign_in import _form, _sign_in, _token_and_signal
from tests.pages.charts import BASE_VALUES

PUBLIC = "https://chartimpact.example"
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


class Clock:
    def __init__(self) -> None:

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _check_headers(response: Any, what: str) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (what, name, dict(response.headers))
    assert "default-src 'none'" in response.headers.get("Content-Security-Policy", ""), what


async def _analyzed(make_app: MakeApp, repo: Repo, **settings: Any) -> tuple[AppUnderTest, dict[str, Any], str, str]:
    settings.setdefault("public_url", PUBLIC)
    app = await make_app(**settings)
    base, head, payload = open_shop_pull(repo, serviceType="LoadBalancer", readiness="false")
    app.fake.pulls[7] = (base, head)
    await app.deliver("pull_request", payload)
    await app.settle()
    (run,) = app.fake.runs_for(head)
    return app, run, base, head


async def _comment(app: AppUnderTest, body: str, login: str, number: int = 7) -> int:
    comment_id = app.fake.add_comment(REPOSITORY, number, body, login=login)
    status, _ = await app.deliver(
        "issue_comment", comment_created(body, number=number, comment_id=comment_id, login=login)
    )
    assert status in (200, 202)
    await app.settle()
    return comment_id


def _replies(app: AppUnderTest) -> list[str]:
    return [c["body"] for c in app.fake.comments.values() if c["author"] is None and c["body"].startswith("@")]


def _ours(app: AppUnderTest) -> dict[str, Any]:
    (comment,) = [c for c in app.fake.comments.values() if c["author"] is None and "chartimpact:analysis" in c["body"]]
    return comment


# --- 1. requests never 500, always the headers ---------------------------------------------


async def test_hostile_requests_never_500_and_carry_headers(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, _ = await _analyzed(make_app, repo)
    path, query = _local(run["details_url"]).split("?")
    rid = path.rsplit("/", 1)[1]
    gets = [
        f"{path}?{query}",
        f"{path}?{query}&chart=%ff%fe&kind=%00&resource=%E2%80%AE",
        f"{path}?exp=%EF%BC%91%EF%BC%92&sig=" + "A" * 43,  # fullwidth digits
        f"{path}?exp=\u0661\u0662\u0663&sig=" + "A" * 43,
        f"{path}?exp=00000000000000001&sig=" + "A" * 43,
        f"{path}?exp=&sig=",
        f"{path}?exp=1&exp=2&sig=a&sig=b",
        f"{path}?sig=" + "%" * 50,
        f"{path}/",
        f"{path}/acknowledgements",
        "/reports/",
        "/reports/" + "0" * 32,
        "/reports/" + rid.upper() + "?" + query,
        "/repos/acme",
        "/repos/acme/charts",
        "/repos/acme/charts/",
        "/repos/acme/charts?exp=" + "9" * 12 + "&sig=" + "A" * 43,
        "/repos/" + "a" * 200 + "/b",
        "/repos/acme/charts%00",
        "/static/",
        "/static/report.css",
        "/static/report.js",
        "/static/REPORT.JS",
        "/static/report.js%00",
        "/static/..%2f..%2fsettings.py",
        "/auth/callback",
        "/auth/callback?state=a.b&code=x",
        "/auth/callback?state=" + "a" * 5000 + "&code=x",
        "/auth/other",
    ]
    for target in gets:
        response = await app.client.get(target, allow_redirects=False)
        text = await response.text()
        assert response.status < 500, (target[:100], response.status, text[:300])
        assert "Traceback" not in text
        _check_headers(response, target[:100])
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for target in (path, "/repos/acme/charts", "/static/report.js", "/auth/callback"):
            response = await app.client.request(method, target, allow_redirects=False)
            assert response.status < 500, (method, target, response.status)
            _check_headers(response, f"{method} {target}")


async def test_hostile_acknowledgement_posts_never_500(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, _ = await _analyzed(
        make_app, repo, oauth_client_id="Iv1.0123456789abcdef", oauth_client_secret="oauth-secret"
    )
    path, query = _local(run["details_url"]).split("?")
    fields = {k: v[0] for k, v in parse_qs(query).items()}
    target = path + "/acknowledgements"
    attempts: list[dict[str, Any]] = [
        {"data": b"%ff=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"data": b"exp=1&reason=%ff%fe", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"data": b"exp=%ff&sig=%fe", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"data": b"{}", "headers": {"Content-Type": "application/json"}},
        {"data": {**fields, "signal": "0" * 16, "change": "ack", "token": "x"}},
        {"data": {**fields, "signal": "0" * 16, "change": "ack", "token": "x", "reason": "r" * 20000}},
    ]
    for attempt in attempts:
        response = await app.client.post(target, allow_redirects=False, **attempt)
        text = await response.text()
        assert response.status < 500, (attempt, response.status, text[:300])
        _check_headers(response, "post")


async def test_a_chunked_form_is_bounded_too(make_app: MakeApp, repo: Repo) -> None:
    """MAX_FORM_BYTES holds whatever Content-Length claims: a chunked body claims none."""
    app = await make_app(public_url=PUBLIC)
    sizes = []

    async def chunks() -> Any:
        yield b"reason="
        for _ in range(8 * 1024):
            sizes.append(1024)
            yield b"r" * 1024

    response = await app.client.post(
        "/reports/" + "0" * 32 + "/acknowledgements",  # no such report, no link
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert response.status == 413, (response.status, f"{sum(sizes):,} bytes read")


async def test_a_form_that_is_not_utf8_is_a_400(make_app: MakeApp, repo: Repo) -> None:

    app, run, _, _ = await _analyzed(make_app, repo)
    path = urlsplit(run["details_url"]).path
    response = await app.client.post(
        path + "/acknowledgements", data=b"\xff", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status < 500, response.status
    _check_headers(response, "non-utf8 form")


async def test_a_multipart_form_is_refused_not_a_500(make_app: MakeApp, repo: Repo) -> None:

    app, run, _, _ = await _analyzed(make_app, repo)
    path = urlsplit(run["details_url"]).path
    response = await app.client.post(
        path + "/acknowledgements", data=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert response.status < 500, response.status


# --- 2. chart content on the page --------------------------------------------------------

HOSTILE_TEMPLATES = {
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: "{{ .Values.name }}"
  annotations: {note: "{{ .Values.note }}"}
spec:
  type: {{ .Values.serviceType }}
  selector: {app: web}
  ports: [{port: 80}]
""",
    "secret.yaml": """\
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  password: "{{ .Values.password }}"
  DATABASE_URL: "postgres://admin:{{ .Values.password }}@db:5432/x"
""",
    "config.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data:
  api_token: "{{ .Values.password }}"
  app.properties: "db.password={{ .Values.password }}"
""",
}


def _hostile_chart(name: str, service_type: str, password: str, note: str) -> dict[str, str]:
    root = "charts/evil"
    return {
        f"{root}/Chart.yaml": "apiVersion: v2\nname: evil\nversion: 0.1.0\n",
        f"{root}/values.yaml": f"name: '{name}'\nserviceType: {service_type}\npassword: '{password}'\nnote: '{note}'\n",
        **{f"{root}/templates/{n}": body for n, body in HOSTILE_TEMPLATES.items()},
    }


async def test_secrets_and_bidi_and_markup_on_the_page(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC)
    name = "web\u202egnp.exe"
    note = "</title></script><svg onload=alert(1)>\u2066x"
    base = repo.commit(_hostile_chart(name, "ClusterIP", "Old-SENTINEL-pass1", note), "base")
    head = repo.commit(_hostile_chart(name, "LoadBalancer", "New-SENTINEL-pass2", note + "2"), "head")
    await app.deliver("pull_request", pull_request("opened", number=9, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    page = await (await app.client.get(_local(run["details_url"]))).text()
    assert "SENTINEL" not in page, re.findall(r".{60}SENTINEL.{20}", page)
    assert "<svg onload" not in page
    (history,) = re.findall(r'href="(/repos/acme/charts\?[^"]+)"', page)
    hist = await (await app.client.get(history.replace("&amp;", "&"))).text()
    assert "SENTINEL" not in hist
    comment = _ours(app)["body"]
    assert "\u202e" not in comment  # the comment escapes bidi controls ...
    found = [m for m in ("\u202e", "\u2066") if m in page]
    assert not found, f"bidi controls shown raw on the page: {found!r}"  # ... does the page?


# --- 3. links ---------------------------------------------------------------------------


def test_link_variants() -> None:
    links = ReportLinks(b"k" * 32)
    q = links.query("a" * 32, 1, 1000)
    assert links.check("a" * 32, 1, q["exp"], q["sig"], 1000) is Check.VALID
    # Leading zeros: another spelling of the same expiry verifies too (malleable but harmless).
    padded = "0" + q["exp"]
    assert links.check("a" * 32, 1, padded, q["sig"], 1000) is Check.INVALID  # one spelling per expiry
    for sig in (q["sig"] + "=", q["sig"].upper(), q["sig"][:-1], " " + q["sig"], q["sig"].replace("-", "+")):
        if sig != q["sig"]:
            assert links.check("a" * 32, 1, q["exp"], sig, 1000) is Check.INVALID, sig
    for exp in ("\uff11" * 10, "\u0661" * 10, "+" + q["exp"], q["exp"] + " ", "1_000_000_000", "-1"):
        assert links.check("a" * 32, 1, exp, q["sig"], 1000) is Check.INVALID, exp
    assert links.check("repo:acme/charts", 1, q["exp"], q["sig"], 1000) is Check.INVALID
    assert links.check("a" * 32, 2, q["exp"], q["sig"], 1000) is Check.INVALID


async def test_history_link_expires_and_report_link_does_not_open_history(make_app: MakeApp, repo: Repo) -> None:
    clock = Clock()
    app, run, _, _ = await _analyzed(make_app, repo, clock=clock)
    page = await (await app.client.get(_local(run["details_url"]))).text()
    (history,) = re.findall(r'href="(/repos/acme/charts\?[^"]+)"', page)
    history = history.replace("&amp;", "&")
    hq = history.split("?", 1)[1]
    rid = urlsplit(run["details_url"]).path.rsplit("/", 1)[1]
    # The history's link on a report path
    assert (await app.client.get(f"/reports/{rid}?{hq}")).status == 403
    clock.now += 31 * 24 * 3600
    response = await app.client.get(history)
    assert response.status == 403 and "expired" in (await response.text())


# --- 4. comment commands ------------------------------------------------------------------


def test_command_parsing_edge_cases() -> None:
    # Inside a ~~~ fence, a ``` line is content, not a fence (CommonMark): still code.
    body = "~~~\n```\n/chartimpact ack all\n~~~\n"
    assert commands.parse(body) is None, commands.parse(body)


def test_command_in_an_indented_code_block_or_html_comment() -> None:
    indented = "Try this:\n\n    /chartimpact ack all\n"
    hidden = "Looks good!\n<!--\n/chartimpact ack all\n-->\n"
    results = {"indented": commands.parse(indented), "hidden": commands.parse(hidden)}
    assert results == {"indented": None, "hidden": None}, results


async def test_reason_markup_and_mentions_are_neutralized(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, head = await _analyzed(make_app, repo)
    app.fake.permissions["alice"] = "write"
    reason = "@acme/security @bob #12 acme/other#3 ![x](https://evil.example/p.png) [c](https://evil.example) <img src=x> https://evil.example www.evil.example"
    await _comment(app, f"/chartimpact ack all {reason}", "alice")
    body = _ours(app)["body"]
    for raw in ("@acme/security", "@bob", "#12", "![x](", "](https://evil", "<img", "https://evil", "www.evil"):
        assert raw not in body, (raw, body[body.find("acknowledged by") - 50 : body.find("acknowledged by") + 400])
    latest = app.fake.runs_for(head)[-1]
    output = latest.get("output", {})
    for part in ("title", "summary", "text"):
        text = output.get(part) or ""
        for raw in ("@acme/security", "@bob", "![x](", "](https://evil", "<img"):
            assert raw not in text, (part, raw)
    replies = _replies(app)
    for reply in replies:
        assert "@acme/security" not in reply and "@bob" not in reply


async def test_unack_of_a_never_acknowledged_signal_changes_nothing(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, head = await _analyzed(make_app, repo)
    app.fake.permissions["alice"] = "write"
    page = await (await app.client.get(_local(run["details_url"]))).text()
    signal_id = re.findall(r'data-signal-id="([0-9a-f]{16})"', page)[0]
    await _comment(app, f"/chartimpact unack {signal_id}", "alice")
    log = await app.queue.store.acknowledgement_log(REPOSITORY)
    runs = app.fake.runs_for(head)
    assert (len(runs), [e.change for e in log.items], _replies(app)) == (
        1,
        [],
        [f"@alice: no acknowledgement is held for `{signal_id}`; nothing was changed for it."],
    )


async def test_commands_on_issues_by_bots_and_readers(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, head = await _analyzed(make_app, repo)
    app.fake.permissions["reader"] = "read"
    app.fake.permissions["triager"] = "triage"
    # On an issue
    payload = comment_created("/chartimpact ack all", number=7, comment_id=1, login="alice")
    del payload["issue"]["pull_request"]
    status, answer = await app.deliver("issue_comment", payload)
    assert status == 200, answer
    for login in ("reader", "triager", "nobody"):
        await _comment(app, "/chartimpact ack all", login)
        await _comment(app, "/chartimpact rerun", login)
    assert len(app.fake.runs_for(head)) == 1
    assert len(_replies(app)) == 6
    # CRLF, zero-width, NBSP, huge, many lines
    app.fake.permissions["alice"] = "write"
    await _comment(app, "/chartimpact\u200b ack all", "alice")
    await _comment(app, "x\n" * 600 + "/chartimpact ack all", "alice")
    await _comment(app, "y" * 70000 + "\r\n/chartimpact ack all", "alice")
    assert len(app.fake.runs_for(head)) == 1
    assert (await app.queue.store.acknowledgement_log(REPOSITORY)).items == []
    await _comment(app, "hello\r\n/chartimpact\u00a0ACK   ALL   because\r\nmore", "alice")
    assert app.fake.runs_for(head)[-1]["conclusion"] == "success"


async def test_ack_of_an_id_from_another_pull_request(make_app: MakeApp, repo: Repo) -> None:
    app, run, base, head = await _analyzed(make_app, repo)
    app.fake.permissions["alice"] = "write"
    page = await (await app.client.get(_local(run["details_url"]))).text()
    ids = set(re.findall(r'data-signal-id="([0-9a-f]{16})"', page))
    # PR 8 has no analysis at all
    await _comment(app, f"/chartimpact ack {sorted(ids)[0]}", "alice", number=8)
    assert _replies(app)[-1].startswith("@alice: there is no stored analysis")
    assert (await app.queue.store.acknowledgement_log(REPOSITORY)).items == []


async def test_requested_action_variants(make_app: MakeApp, repo: Repo) -> None:
    app, run, base, head = await _analyzed(make_app, repo)
    app.fake.permissions["alice"] = "write"
    other = dict(run, name="Other CI")
    for payload in (
        requested_action(other, "acknowledge", login="alice", number=7, base_sha=base),
        requested_action(run, "ACKNOWLEDGE", login="alice", number=7, base_sha=base),
        requested_action(run, "x" * 5000, login="alice", number=7, base_sha=base),
    ):
        status, answer = await app.deliver("check_run", payload)
        assert status == 200, answer
    no_sender = requested_action(run, "acknowledge", login="alice", number=7, base_sha=base)
    del no_sender["sender"]
    status, answer = await app.deliver("check_run", no_sender)
    assert status in (200, 400), answer
    no_action = requested_action(run, "acknowledge", login="alice", number=7, base_sha=base)
    del no_action["requested_action"]
    status, answer = await app.deliver("check_run", no_action)
    assert status in (200, 400), answer
    # by someone without write access
    payload = requested_action(run, "acknowledge", login="mallory", number=7, base_sha=base)
    status, _ = await app.deliver("check_run", payload)
    await app.settle()
    assert len(app.fake.runs_for(head)) == 1
    assert (await app.queue.store.acknowledgement_log(REPOSITORY)).items == []


# --- 5. acknowledgements: which signal, which value ----------------------------------------


def _two_shops(shop_type: str, shop2_type: str) -> dict[str, str]:
    files = shop_files(values(serviceType=shop_type))
    files.update(
        {k.replace("charts/shop/", "charts/shop2/"): v for k, v in shop_files(values(serviceType=shop2_type)).items()}
    )
    files["charts/shop2/Chart.yaml"] = "apiVersion: v2\nname: shop2\nversion: 0.1.0\n"
    return files


async def test_ack_all_with_one_signal_id_in_two_charts(make_app: MakeApp, repo: Repo) -> None:
    """A signal id is the same in two charts (type, resource, path): one acknowledgement covers
    both occurrences, whatever each says."""
    app = await make_app(public_url=PUBLIC)
    app.fake.permissions["alice"] = "write"
    base = repo.commit(_two_shops("ClusterIP", "ClusterIP"), "two shops")
    head = repo.commit(_two_shops("LoadBalancer", "NodePort"), "exposed two ways")
    app.fake.pulls[7] = (base, head)
    await app.deliver("pull_request", pull_request("opened", number=7, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    page = await (await app.client.get(_local(run["details_url"]))).text()
    ids = re.findall(r'data-signal-id="([0-9a-f]{16})"', page)
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicated, (
        "no id occurs twice",
        re.findall(r'data-signal-id="([0-9a-f]{16})" data-chart="([^"]*)"', page),
        re.findall(r"<code>([a-z.A-Z]+)</code> · id", page),
        re.findall(r'class="chart-status">.{0,300}', page),
        page.count("shop2"),
    )
    assert run["conclusion"] == "failure"
    await _comment(app, "/chartimpact ack all", "alice")
    await _comment(app, "/chartimpact ack all", "alice")  # and again
    latest = app.fake.runs_for(head)[-1]
    assert latest["conclusion"] == "success", (
        latest["conclusion"],
        [a["identifier"] for a in latest["actions"]],
        _replies(app),
        len(app.fake.runs_for(head)),
    )


async def test_acknowledging_from_an_old_report_page_accepts_what_it_showed(make_app: MakeApp, repo: Repo) -> None:
    """The acknowledgement accepts what the page showed; a newer push that changed the signal
    still counts."""
    app = await make_app(
        public_url="http://chartimpact.example",
        oauth_client_id="Iv1.0123456789abcdef",
        oauth_client_secret="oauth-secret",
    )
    app.fake.permissions["alice"] = "write"
    base, head1, payload = open_shop_pull(repo, serviceType="NodePort")
    app.fake.pulls[7] = (base, head1)
    await app.deliver("pull_request", payload)
    await app.settle()
    old_page = app.fake.runs_for(head1)[0]["details_url"].removeprefix("http://chartimpact.example")
    # a later push: the Service is now a LoadBalancer (same signal id, another before/after)
    head2 = repo.commit(shop_files(values(serviceType="LoadBalancer")), "LoadBalancer")
    app.fake.pulls[7] = (base, head2)
    await app.deliver("pull_request", pull_request("synchronize", number=7, base_sha=base, head_sha=head2))
    await app.settle()
    assert app.fake.runs_for(head2)[-1]["conclusion"] == "failure"

    await _sign_in(app, old_page, "alice")
    token, signal_id = _token_and_signal(await (await app.client.get(old_page)).text())
    old_html = await (await app.client.get(old_page)).text()
    assert "NodePort" in old_html and "LoadBalancer" not in old_html.split(signal_id)[1][:2000]
    done = await app.client.post(
        old_page.split("?")[0] + "/acknowledgements",
        data=_form(old_page, signal_id, token, reason="NodePort is fine"),
        allow_redirects=False,
    )
    assert done.status == 303
    await app.settle()
    # The acknowledgement was made of the NodePort change; the LoadBalancer change must still count.
    assert app.fake.runs_for(head2)[-1]["conclusion"] == "failure", "LoadBalancer acknowledged from the NodePort page"


async def test_the_button_of_an_old_check_run_accepts_only_what_that_run_showed(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC)
    app.fake.permissions["alice"] = "write"
    base, head1, payload = open_shop_pull(repo, serviceType="NodePort")
    app.fake.pulls[7] = (base, head1)
    await app.deliver("pull_request", payload)
    await app.settle()
    (old_run,) = app.fake.runs_for(head1)
    head2 = repo.commit(shop_files(values(serviceType="LoadBalancer", readiness="false")), "more")
    app.fake.pulls[7] = (base, head2)
    await app.deliver("pull_request", pull_request("synchronize", number=7, base_sha=base, head_sha=head2))
    await app.settle()
    # Alice presses "Acknowledge" on the run of head1 (which she read)
    status, _ = await app.deliver(
        "check_run", requested_action(old_run, "acknowledge", login="alice", number=7, base_sha=base)
    )
    await app.settle()
    log = await app.queue.store.acknowledgement_log(REPOSITORY)
    new_runs = app.fake.runs_for(head2)
    assert new_runs[-1]["conclusion"] == "failure", (
        "the button of head1's run acknowledged head2's signals",
        [(e.signal_id, e.change) for e in log.items],
        [r["conclusion"] for r in app.fake.runs_for(head1)],
    )


# --- 6. concurrency -----------------------------------------------------------------------


async def test_two_acks_at_once_both_end_up_published(make_app: MakeApp, repo: Repo) -> None:
    """INSTALLATION_CONCURRENCY=0 (documented): two commands run at once; whichever publishes
    last shows both acknowledgements."""
    app, run, base, head = await _analyzed(make_app, repo, installation_concurrency=0)
    app.fake.permissions["alice"] = "write"
    app.fake.permissions["bob"] = "write"
    page = await (await app.client.get(_local(run["details_url"]))).text()
    counting = re.findall(r'data-signal-id="([0-9a-f]{16})"', page)
    first, second = counting[0], counting[1]
    released = asyncio.Event()
    seen: list[str] = []

    async def hold(call: Any) -> None:
        if call.operation == "checks/create":
            seen.append("create")
            if len(seen) == 1:  # the first command to publish waits for the other to finish
                await asyncio.wait_for(released.wait(), 10)
        if call.operation == "issues/update-comment" and len(seen) >= 2:
            released.set()

    app.fake.hold = hold
    for login, signal_id in (("alice", first), ("bob", second)):
        body = f"/chartimpact ack {signal_id}"
        cid = app.fake.add_comment(REPOSITORY, 7, body, login=login)
        await app.deliver("issue_comment", comment_created(body, number=7, comment_id=cid, login=login))
    await app.settle()
    # Two publications at least; a third is the first command's next round, when it saw the
    # acknowledgements change while it published (MAX_ROUNDS), which depends on timing.
    assert released.is_set() and 2 <= len(seen) <= 2 + MAX_ROUNDS, seen
    acked = await app.queue.store.acknowledgements(REPOSITORY, f"{REPOSITORY}#7")
    assert {a.signal_id for a in acked} == {first, second}
    ours = _ours(app)["body"]
    latest = app.fake.runs_for(head)[-1]
    text = (latest.get("output") or {}).get("summary", "") + (latest.get("output") or {}).get("text", "")
    assert ours.count("acknowledged by") == 2, (
        "comment shows",
        ours.count("acknowledged by"),
        "check run text shows",
        text.count("cknowledged by"),
    )


# --- 7. history -----------------------------------------------------------------------------


def test_history_plot_with_many_entries_stays_in_the_plot() -> None:

    entries = [
        Entry(
            "t",
            "main",
            None,
            "abc",
            f"c{n}",
            "default",
            "fail",
            {c: (1 if c == "security" else 0) for c in CATEGORIES},
            "/",
        )
        for n in range(600)
    ]
    bars = _plot(entries)
    outside = [b for b in bars if b.x + b.width > PLOT_WIDTH - PLOT_MARGIN]
    assert not outside, (
        f"{len(outside)} of {len(bars)} bars drawn outside the {PLOT_WIDTH}px plot (last x={bars[-1].x})"
    )


def test_session_cookie_of_twenty_long_repository_names() -> None:

    now = time.time()
    repos = {f"{'o' * 39}/{'r' * 90}{n:02d}": now + 600 + n for n in range(MAX_REPOSITORIES)}
    token = session_token(b"k" * 32, "alice", repos)
    session = verified(b"k" * 32, token)
    assert session is not None and len(token) <= MAX_SESSION_CHARS
    kept = session["repos"]
    assert 1 <= len(kept) < MAX_REPOSITORIES
    assert f"{'o' * 39}/{'r' * 90}{MAX_REPOSITORIES - 1:02d}" in kept  # the newest stays


# --- 8. REPORT_AUTH=github ---------------------------------------------------------------

HTTP_PUBLIC = "http://chartimpact.example"


async def _github_auth_app(make_app: MakeApp, repo: Repo) -> tuple[AppUnderTest, str]:
    app = await make_app(
        public_url=HTTP_PUBLIC,
        report_auth="github",
        oauth_client_id="Iv1.0123456789abcdef",
        oauth_client_secret="oauth-secret",
    )
    base, head, payload = open_shop_pull(repo, serviceType="LoadBalancer")
    await app.deliver("pull_request", payload)
    await app.settle()
    return app, app.fake.runs_for(head)[0]["details_url"].removeprefix(HTTP_PUBLIC)


async def _state_of(app: AppUnderTest, page: str) -> str:
    response = await app.client.get(page, allow_redirects=False)
    assert response.status == 302, response.status
    return parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]


async def test_two_tabs_signing_in_at_once(make_app: MakeApp, repo: Repo) -> None:
    """Opening the report and its history (or two reports) in two tabs while signed out: both
    tabs come back signed in."""
    app, page = await _github_auth_app(make_app, repo)
    app.fake.readers.add("alice")
    first = await _state_of(app, page)
    second = await _state_of(app, page + "&category=security")
    app.fake.oauth_codes["c1"] = "alice"
    app.fake.oauth_codes["c2"] = "alice"
    back1 = await app.client.get("/auth/callback", params={"code": "c1", "state": first}, allow_redirects=False)
    back2 = await app.client.get("/auth/callback", params={"code": "c2", "state": second}, allow_redirects=False)
    assert (back1.status, back2.status) == (302, 302), (back1.status, await back1.text())


async def test_replayed_state_and_tampered_session_cookie(make_app: MakeApp, repo: Repo) -> None:
    app, page = await _github_auth_app(make_app, repo)
    app.fake.readers.add("alice")
    state = await _state_of(app, page)
    app.fake.oauth_codes["c1"] = "alice"
    back = await app.client.get("/auth/callback", params={"code": "c1", "state": state}, allow_redirects=False)
    assert back.status == 302 and back.headers["Location"] == page
    assert (await app.client.get(page, allow_redirects=False)).status == 200
    # Replay of the same state (nonce cookie gone)
    app.fake.oauth_codes["c2"] = "alice"
    again = await app.client.get("/auth/callback", params={"code": "c2", "state": state}, allow_redirects=False)
    assert again.status == 403
    # A tampered cookie
    cookie = next(c for c in app.client.session.cookie_jar if c.key == "chartimpact_session").value
    body, mac = cookie.split(".")

    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["repos"]["acme/other"] = 9e12
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    for value in (f"{forged}.{mac}", cookie + "x", "x" * 5000, ".", "a.b.c", "\u00e9.\u00e9"):
        app.client.session.cookie_jar.clear()
        response = await app.client.get(page, allow_redirects=False, headers={"Cookie": f"chartimpact_session={value}"})
        assert response.status == 302, (value[:40], response.status)


# --- 9. reasons in other languages, nothing to ack, odd chart names ---------------------------


async def test_a_reason_in_french_or_japanese_is_shown_as_written(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, head = await _analyzed(make_app, repo)
    app.fake.permissions["alice"] = "write"
    reason = "maintenance planifiée 🚀 計画済み"
    await _comment(app, f"/chartimpact ack all {reason}", "alice")
    page = await (await app.client.get(_local(app.fake.runs_for(head)[-1]["details_url"]))).text()
    body = _ours(app)["body"]
    assert reason in page, re.findall(r"acknowledged by @alice: [^(]*", page)[:1]
    assert "planifi" in body and "\\u00e9" not in body, re.findall(r"acknowledged by .{0,120}", body)[:1]


async def test_ack_all_when_nothing_counts(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC)
    app.fake.permissions["alice"] = "write"
    base, head, payload = open_shop_pull(repo, mode="z")  # only the ConfigMap: nothing fails
    app.fake.pulls[7] = (base, head)
    await app.deliver("pull_request", payload)
    await app.settle()
    await _comment(app, "/chartimpact ack all", "alice")
    await _comment(app, "/chartimpact unack all", "alice")
    assert _replies(app) == [
        "@alice: no signal counts toward the verdict: nothing to acknowledge.",
        "@alice: no acknowledgement to withdraw.",
    ]
    assert len(app.fake.runs_for(head)) == 1


async def test_odd_chart_names_on_the_history(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC)
    # (git ls-tree, behind the fake's tree API, quotes paths with '"' or non-ASCII: not used here)
    odd = "charts/we'b<i>&amp;x"
    files = {k.replace("charts/shop", odd): v for k, v in shop_files(BASE_VALUES).items()}
    base = repo.commit(files, "odd")
    files = {k.replace("charts/shop", odd): v for k, v in shop_files(values(serviceType="LoadBalancer")).items()}
    head = repo.commit(files, "odd head")
    await app.deliver("pull_request", pull_request("opened", number=9, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    page = await (await app.client.get(_local(run["details_url"]))).text()
    (history,) = re.findall(r'href="(/repos/acme/charts\?[^"]+)"', page)
    hist = await (await app.client.get(history.replace("&amp;", "&"))).text()
    assert "<i>" not in hist and "<i>" not in page
    assert "we&#39;b&lt;i&gt;&amp;amp;x" in hist, re.findall(r"we.{0,30}", hist)[:3]
    filtered = await app.client.get(history.replace("&amp;", "&"), params={"chart": odd})
    assert filtered.status == 200 and "feature (#9)" in await filtered.text()


async def test_rerun_of_a_pull_request_github_does_not_find(make_app: MakeApp, repo: Repo) -> None:
    app, run, _, head = await _analyzed(make_app, repo)
    app.fake.permissions["alice"] = "write"
    await _comment(app, "/chartimpact rerun", "alice", number=99)  # fake.pulls has no 99
    jobs = (
        [j for j in await app.queue.store.list_jobs() if j.kind == "command"]
        if hasattr(app.queue.store, "list_jobs")
        else []
    )
    print("RERUN", _replies(app), [(j.state, j.error) for j in jobs])
    assert _replies(app), "no answer to the sender"
