"""What the running App writes to GitHub cannot be abused by chart content: only its own comment
is edited, every body keeps to GitHub's limits, nothing mentions anyone or carries a control
character."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

from chartimpact_bot.github.auth import AppIdentity
from tests.conftest import git
from tests.github.conftest import REPOSITORY, MakeApp, Repo, chart_files, pull_request

MARKER = "<!-- chartimpact:analysis:v1 -->"
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Go template string escapes: ESC[31m, an OSC 8 link ended by BEL, C1 CSI, RLO.
HOSTILE_GO = (
    r"\x1b[31mred\x1b]8;;http://e.vil\aclick\x1b]8;;\a\u009bcsi\u202eevil"
    r" @octocat @org/team #1 owner/repo#2 GH-3 https://e.vil/x www.e.vil"
)


def _head(repo: Repo) -> str:
    return git(repo.path, "rev-parse", "HEAD")


def _unsafe(text: str) -> list[str]:
    return sorted({c for c in text if (unicodedata.category(c) == "Cc" and c not in "\n\t") or c in BIDI})


def _live_references(text: str) -> list[str]:
    text = html.unescape(text)
    patterns = (r"@[A-Za-z0-9]", r"#\d", r"(?i)\bGH-\d", r"(?i)https?://e\.vil", r"(?i)\bwww\.")
    return [m.group() for p in patterns for m in re.finditer(p, text)]


def _everything_written(run: dict[str, Any], comments: list[dict[str, Any]]) -> list[str]:
    output = run["output"]
    texts = [output["title"], output["summary"], output.get("text") or ""]
    texts += [a[key] for a in run["annotations"] for key in ("title", "message", "raw_details") if key in a]
    return texts + [c["body"] for c in comments]


async def test_a_human_comment_carrying_the_marker_is_never_edited(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    human_body = f"{MARKER}\nI pasted the bot's marker to hijack its comment."
    human = app.fake.add_comment(REPOSITORY, 7, human_body)
    other_bot = app.fake.add_comment(REPOSITORY, 7, f"{MARKER}\nanother App", login="other-app[bot]", bot=True)
    base = _head(repo)
    first = repo.commit(chart_files("web", readiness=False), "web loses its readiness probe")
    await app.deliver("pull_request", pull_request("opened", number=7, base_sha=base, head_sha=first))
    await app.settle()  # a violation is recorded if the App edits a comment it did not write

    assert app.fake.comments[human]["edits"] == 0 and app.fake.comments[human]["body"] == human_body
    assert app.fake.comments[other_bot]["edits"] == 0
    ours = [c for c in app.fake.comments.values() if c["author"] is None]
    assert len(ours) == 1 and ours[0]["body"].startswith(MARKER)
    assert len(app.fake.operations("issues/create-comment")) == 1
    assert app.fake.operations("issues/update-comment") == []

    second = repo.commit(chart_files("web", readiness=False, replicas=1), "and one replica")
    await app.deliver("pull_request", pull_request("synchronize", number=7, base_sha=base, head_sha=second))
    await app.settle()
    assert len(app.fake.comments) == 3
    assert app.fake.comments[ours[0]["id"]]["edits"] == 1
    assert "Replicas of Deployment" in app.fake.comments[ours[0]["id"]]["body"]
    assert app.fake.comments[human]["edits"] == 0
    assert [c.path for c in app.fake.operations("issues/update-comment")] == [
        f"/repos/{REPOSITORY}/issues/comments/{ours[0]['id']}"
    ]
    assert len(app.fake.operations("apps/get-authenticated")) == 1  # the App's slug, read once


async def test_a_300_kb_render_error_yields_a_completed_run_and_a_comment_within_limits(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    base = _head(repo)
    template = '{{ fail (printf "%s ``` </details> ' + HOSTILE_GO + '" (repeat 300000 "x")) }}\n'
    head = repo.commit({"charts/web/templates/broken.yaml": template}, "break web, loudly")
    status, answer = await app.deliver("pull_request", pull_request("opened", number=5, base_sha=base, head_sha=head))
    assert status == 202
    await app.settle()  # no 422 (the fake enforces GitHub's limits)

    state = await (await app.client.get(answer["statusUrl"])).json()
    assert state["state"] == "succeeded", state["error"]
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
    output = run["output"]
    assert len(output["summary"]) <= 65_535 and len(output.get("text") or "") <= 65_535
    assert all(len(a["title"]) <= 255 and len(a["message"].encode()) <= 64 * 1024 for a in run["annotations"])
    (comment,) = app.fake.comments.values()
    body = comment["body"]
    assert len(body) <= 65_536
    assert "more characters cut" in body  # the error says it was cut
    assert body.count("<details>") == body.count("</details>")
    assert body.count("<code>") == body.count("</code>")
    assert "```" not in body
    for text in _everything_written(run, [comment]):
        assert _unsafe(text) == []
        assert _live_references(text) == []


async def test_hostile_names_reach_github_escaped_and_without_mentions(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(status_enabled=True)
    base = _head(repo)
    configmap = (
        "apiVersion: v1\nkind: ConfigMap\n"
        'metadata: {name: {{ printf "%s" "' + HOSTILE_GO + '" | quote }}}\n'
        'data: {k: {{ printf "%s" "' + HOSTILE_GO + '" | quote }}}\n'
    )
    head = repo.commit(
        {**chart_files("web", readiness=False), "charts/web/templates/configmap.yaml": configmap}, "hostile"
    )
    await app.deliver("pull_request", pull_request("opened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    (run,) = app.fake.runs_for(head)
    (comment,) = app.fake.comments.values()
    assert "ConfigMap" in comment["body"] and "\\x1b" in comment["body"] and "\\u202e" in comment["body"]
    for text in _everything_written(run, [comment]) + [s["description"] for s in app.fake.statuses]:
        assert _unsafe(text) == []
        assert _live_references(text) == []


def test_only_this_apps_bot_or_app_counts_as_the_author() -> None:
    def comment(login: str, kind: str, app: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"user": {"login": login, "type": kind}, "performed_via_github_app": app}

    by_slug = AppIdentity(id=12345, client_id="Iv1.abc", slug="chartimpact")
    assert by_slug.wrote(comment("chartimpact[bot]", "Bot"))
    assert not by_slug.wrote(comment("chartimpact", "User"))  # a human who took the name
    assert not by_slug.wrote(comment("other[bot]", "Bot", {"id": 99, "slug": "other"}))
    assert not by_slug.wrote(comment("octocat", "User", {"id": 12345, "slug": "chartimpact"}))  # a human's
    numeric, client = AppIdentity.from_setting("12345"), AppIdentity.from_setting("Iv1.abc")
    assert numeric.wrote(comment("renamed[bot]", "Bot", {"id": 12345}))
    assert client.wrote(comment("renamed[bot]", "Bot", {"id": 1, "client_id": "Iv1.abc"}))
    assert not client.wrote(comment("renamed[bot]", "Bot", {"id": 12345}))
