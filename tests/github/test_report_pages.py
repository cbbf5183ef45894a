"""The report page and the history behind the check run's details_url (issue 12 points 2, 3, 6):
served by the running App, against the fake GitHub, with real analyses."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chartimpact_bot.report_links import ReportLinks, derive_link_key
from chartimpact_bot.web.keys import GITHUB
from tests.github.commands_support import open_shop_pull
from tests.github.conftest import INSTALLATION, REPOSITORY, AppUnderTest, MakeApp, Repo, pull_request_job

PUBLIC = "https://chartimpact.example"
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


class Clock:
    def __init__(self) -> None:
        import time  # noqa: PLC0415

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def _analyzed(make_app: MakeApp, repo: Repo, **settings: Any) -> tuple[AppUnderTest, dict[str, Any], str]:
    app = await make_app(**settings)
    _, head, payload = open_shop_pull(repo, serviceType="LoadBalancer", readiness="false")
    await app.deliver("pull_request", payload)
    await app.settle()
    (run,) = app.fake.runs_for(head)
    return app, run, head


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_the_check_run_links_its_report_page_which_shows_every_signal(make_app: MakeApp, repo: Repo) -> None:
    app, run, head = await _analyzed(make_app, repo, public_url=PUBLIC)
    details = run["details_url"]
    assert re.fullmatch(PUBLIC + r"/reports/[0-9a-f]{32}\?exp=[0-9]+&sig=[A-Za-z0-9_-]{43}", details)
    response = await app.client.get(_local(details))
    assert response.status == 200
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html = await response.text()
    signal_ids = re.findall(r'data-signal-id="([0-9a-f]{16})"', html)
    assert len(signal_ids) == len(set(signal_ids)) >= 3
    for signal_id in signal_ids:
        assert f'id="signal-{signal_id}"' in html
    assert "Blast radius" in html and "Becomes exposed" in html
    # The fake's API is an Enterprise host's: files are browsed on that host.
    assert f"{app.settings.web_url}/acme/charts/blob/{head}/charts/shop/values.yaml#L" in html
    assert replace(app.settings, api_url="https://api.github.com").web_url == "https://github.com"
    assert replace(app.settings, api_url="https://ghe.example/api/v3").web_url == "https://ghe.example"
    assert "<svg" in html  # the graph of the ConfigMap, the Deployment and the Service

    (comment,) = app.fake.comments.values()
    assert f"[full report]({details})" in comment["body"]
    annotations = [a for a in run["annotations"] if a["title"].startswith("security.exposure.type")]
    assert annotations[0]["raw_details"].endswith(
        f"Full report: {details}#signal-{_id_of(html, 'security.exposure.type')}"
    )


def _id_of(html: str, signal_type: str) -> str:
    match = re.search("<code>" + re.escape(signal_type) + r"</code> · id <code>([0-9a-f]{16})</code>", html)
    assert match, signal_type
    return match.group(1)


async def test_an_expired_or_tampered_link_is_refused_with_the_headers(make_app: MakeApp, repo: Repo) -> None:
    clock = Clock()
    app, run, _ = await _analyzed(make_app, repo, public_url=PUBLIC, clock=clock)
    path, query = _local(run["details_url"]).split("?")
    fields = {k: v[0] for k, v in parse_qs(query).items()}
    tampered = fields["sig"][:-1] + ("A" if fields["sig"][-1] != "A" else "B")
    later = str(int(fields["exp"]) + 3600)
    for attempt in (
        f"sig={tampered}&exp={fields['exp']}",
        f"sig={fields['sig']}&exp={later}",
        "",
        f"exp={fields['exp']}",
    ):
        response = await app.client.get(f"{path}?{attempt}")
        assert response.status == 403, attempt
        assert "Not allowed" in await response.text()
        assert response.headers["Referrer-Policy"] == "no-referrer"
    clock.now += 31 * 24 * 3600
    response = await app.client.get(f"{path}?{query}")
    assert response.status == 403
    assert "Link expired" in await response.text()


async def test_a_link_signed_for_another_installation_or_report_does_not_open_it(
    make_app: MakeApp, repo: Repo, app_keys: tuple[str, str]
) -> None:
    app, run, _ = await _analyzed(make_app, repo, public_url=PUBLIC)
    path = urlsplit(run["details_url"]).path
    report_id = path.rsplit("/", 1)[1]
    links = ReportLinks(derive_link_key(app_keys[0], None))  # the App's own key
    other_installation = links.query(report_id, 9999, 2e9)
    response = await app.client.get(path, params=other_installation)
    assert response.status == 403
    another_report = links.query("f" * 32, 4242, 2e9)
    response = await app.client.get(path, params=another_report)
    assert response.status == 403
    good = links.query(report_id, 4242, 2e9)  # the same key and installation: opens it
    assert (await app.client.get(path, params=good)).status == 200


async def test_unknown_and_malformed_report_ids_are_404_pages(make_app: MakeApp, repo: Repo) -> None:
    app, _, _ = await _analyzed(make_app, repo, public_url=PUBLIC)
    for path in ("/reports/" + "0" * 32 + "?exp=1&sig=x", "/reports/not-an-id", "/reports/%0a%0d"):
        response = await app.client.get(path)
        assert response.status == 404, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_report_page_filters_without_javascript(make_app: MakeApp, repo: Repo) -> None:
    app, run, _ = await _analyzed(make_app, repo, public_url=PUBLIC)
    everything = await (await app.client.get(_local(run["details_url"]))).text()
    security = await (await app.client.get(_local(run["details_url"]) + "&category=security")).text()
    all_ids = re.findall(r'data-signal-id="', everything)
    categories = re.findall(r'data-category="([a-z]+)"', security)
    assert categories and set(categories) == {"security"}
    assert len(categories) < len(all_ids)


async def test_without_a_public_url_links_use_the_address_github_delivers_to(make_app: MakeApp, repo: Repo) -> None:
    app, run, _ = await _analyzed(make_app, repo)
    origin = str(app.client.make_url("/")).rstrip("/")
    assert run["details_url"].startswith(origin + "/reports/")
    assert (await app.client.get(_local(run["details_url"]))).status == 200


async def test_the_history_lists_past_analyses_with_a_plot_and_links(make_app: MakeApp, repo: Repo) -> None:
    app, run, _ = await _analyzed(make_app, repo, public_url=PUBLIC)
    page = await (await app.client.get(_local(run["details_url"]))).text()
    (history,) = re.findall(r'href="(/repos/acme/charts\?[^"]+)"', page)
    response = await app.client.get(history.replace("&amp;", "&"))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    html = await response.text()
    assert 'class="history-plot"' in html
    assert re.findall(r'<rect class="bar-(security|availability|upgrade)"', html)
    (report_link,) = set(re.findall(r'href="(/reports/[0-9a-f]{32}\?[^"]+)"', html))
    assert (await app.client.get(report_link.replace("&amp;", "&"))).status == 200
    # The history needs a link of its own: a report's link does not open it.
    query = urlsplit(run["details_url"]).query
    assert (await app.client.get(f"/repos/acme/charts?{query}")).status == 403


async def test_hostile_queries_never_fail_the_server(make_app: MakeApp, repo: Repo) -> None:
    app, run, _ = await _analyzed(make_app, repo, public_url=PUBLIC)
    path, query = _local(run["details_url"]).split("?")
    hostile = [
        "exp=" + "9" * 5000 + "&sig=x",
        "exp=-1&sig=" + "A" * 43,
        "exp=1e9&sig=%00%ff",
        "sig=" + "=" * 44 + "&exp=2000000000",
        query + "&category=%3Cscript%3E&kind=" + "k" * 3000 + "&resource=%0a%1b[31m",
        query + "&chart=&environment=&importance=high&importance=low",
    ]
    for attempt in hostile:
        response = await app.client.get(f"{path}?{attempt}")
        assert response.status in (200, 403), attempt[:200]
        assert "<script>" not in (await response.text()).replace('<script src="/static/report.js" defer></script>', "")
    for bad in (
        "/repos/acme/charts?exp=1&sig=2",
        "/repos/..%2F..%2Fetc/passwd",
        "/repos/a/b%00",
        "/static/..%2Fapp.py",
    ):
        response = await app.client.get(bad)
        assert response.status in (403, 404), bad


async def test_chart_content_is_escaped_on_the_page(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(public_url=PUBLIC)
    _, head, payload = open_shop_pull(repo, mode='"<script>alert(1)</script><img src=x onerror=alert(2)>"')
    await app.deliver("pull_request", payload)
    await app.settle()
    (run,) = app.fake.runs_for(head)
    html = await (await app.client.get(_local(run["details_url"]))).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<script>alert" not in html


async def test_an_instance_that_received_no_delivery_links_where_the_jobs_delivery_came(
    make_app: MakeApp, repo: Repo
) -> None:
    """Several instances share the store: the one that runs a job may never have received a delivery."""
    app = await make_app()
    github = app.client.app[GITHUB]
    assert github.public_url is None  # nothing delivered to this instance yet
    job = pull_request_job(f"{REPOSITORY}#1")
    assert github.report_url("a" * 32, INSTALLATION, job) is None
    job.result["publicUrl"] = "https://bot.example.com"
    link = github.report_url("a" * 32, INSTALLATION, job)
    assert link is not None and link.startswith("https://bot.example.com/reports/" + "a" * 32 + "?exp=")
