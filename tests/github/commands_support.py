"""Deliveries of comment commands and check run buttons, from GitHub's own examples, and a
repository whose pull request raises signals on every line of the report page."""

from __future__ import annotations

from typing import Any

from tests.github.conftest import REPOSITORY, Repo, example, point_at_repository, pull_request
from tests.pages.charts import BASE_VALUES, TEMPLATES

SHOP = "charts/shop"


def shop_files(values: str) -> dict[str, str]:
    files = {f"{SHOP}/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n", f"{SHOP}/values.yaml": values}
    files.update({f"{SHOP}/templates/{name}": body for name, body in TEMPLATES.items()})
    return files


def values(**changed: str) -> str:
    """BASE_VALUES with some keys changed (`serviceType="LoadBalancer"`)."""
    lines = dict(line.split(": ", 1) for line in BASE_VALUES.splitlines())
    lines.update(changed)
    return "".join(f"{k}: {v}\n" for k, v in lines.items())


def open_shop_pull(repo: Repo, number: int = 7, **changed: str) -> tuple[str, str, dict[str, Any]]:
    """(base, head, payload): a pull request changing the shop chart's values."""
    base = repo.commit(shop_files(BASE_VALUES), "the shop chart")
    head = repo.commit(shop_files(values(**changed)), "change the shop")
    return base, head, pull_request("opened", number=number, base_sha=base, head_sha=head)


def comment_created(body: str, *, number: int, comment_id: int, login: str, bot: bool = False) -> dict[str, Any]:
    payload = example("issue_comment", "created")
    payload["issue"].update(
        {
            "number": number,
            "pull_request": {"url": f"https://api.github.example/repos/{REPOSITORY}/pulls/{number}"},
        }
    )
    payload["comment"].update({"id": comment_id, "body": body})
    payload["sender"].update({"login": login, "type": "Bot" if bot else "User"})
    return point_at_repository(payload)


def requested_action(run: dict[str, Any], identifier: str, *, login: str, number: int, base_sha: str) -> dict[str, Any]:
    payload = example("check_run", "requested_action")
    payload["requested_action"] = {"identifier": identifier}
    payload["check_run"].update(
        {
            "id": run["id"],
            "name": run["name"],
            "head_sha": run["head_sha"],
            "external_id": run["external_id"],
            "pull_requests": [
                {
                    "number": number,
                    "base": {"ref": "main", "sha": base_sha},
                    "head": {"ref": "feature", "sha": run["head_sha"]},
                }
            ],
        }
    )
    payload["sender"].update({"login": login, "type": "User"})
    return point_at_repository(payload)
