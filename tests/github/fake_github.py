"""A fake GitHub REST API over HTTP, strict where the real one is.

- Every request must be an operation of GitHub's REST description (@octokit/openapi) and its
  JSON body must validate against that operation's schema; anything else is answered 400/422
  and recorded in `violations` (tests assert there are none).
- App endpoints require a valid App JWT (RS256, iss = the App id, lifetime ≤ 10 minutes);
  repository endpoints require an installation token the fake issued.
- Trees, blobs and commits come from real git repositories built by the tests.
- GitHub's size limits are enforced (422 like GitHub): check run summary/text ≤ 65,535
  characters, ≤ 50 annotations per request, annotation title ≤ 255, message and raw_details
  ≤ 64 KB, comment body ≤ 65,536, status description ≤ 140.
- Comments are attributed as GitHub does: one posted with an installation token is written by
  the App's bot user (`<slug>[bot]`, type Bot) and `performed_via_github_app` is the App;
  `add_comment` seeds a human's. The App editing a human's comment is a violation. Comment and
  `GET /app` answers are validated against the description's response schemas.
- Every call is recorded; `latency` delays each answer (benchmarks), `hold` the answers a test
  wants to come later than others.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from aiohttp import web

from tests.github.openapi import RestDescription


@dataclass(slots=True)
class Call:
    method: str
    path: str
    operation: str | None
    body: Any
    query: dict[str, str]


@dataclass(slots=True)
class FakeRepo:
    path: Path
    default_branch: str = "main"
    releases: list[dict[str, Any]] = field(default_factory=list)
    installation_id: int | None = None  # None: the App is not installed on it

    def git(self, *args: str, binary: bool = False) -> Any:
        done = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, check=False)
        if done.returncode != 0:
            return None
        return done.stdout if binary else done.stdout.decode().strip()


class FakeGitHub:
    def __init__(
        self, rest: RestDescription, *, app_id: str, public_key: str, base_path: str = "", app_slug: str = "chartimpact"
    ) -> None:
        self.rest = rest
        self.app_id = app_id  # what the JWT's `iss` must be: the numeric id or the client id
        self.app_slug = app_slug
        self.app_numeric_id = int(app_id) if app_id.isdigit() else 777
        self.app_client_id = app_id if not app_id.isdigit() else "Iv1.0123456789abcdef"
        self.public_key = public_key
        self.base_path = base_path.rstrip("/")
        self.origin = ""  # where the fake is served, as its requests name it (for `link` headers)
        self.repos: dict[str, FakeRepo] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.tokens: set[str] = set()
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.latency = 0.0
        self.truncate_trees = False
        # Answers to give instead of the real one, in order: (operation id, status, headers, body)
        self.injected: list[tuple[str, int, dict[str, str], Any]] = []
        # Functions of each authenticated call answering (status, headers, body) to give instead,
        # or None: answers that depend on the repository, the time, or calls before.
        self.rules: list[Callable[[Call], tuple[int, dict[str, str], Any] | None]] = []
        # Awaited with each authenticated call before it is answered: a test orders answers with it.
        self.hold: Callable[[Call], Awaitable[None]] | None = None
        self._ids = itertools.count(1000)
        # Each login's permission on every repository (GET …/collaborators/{username}/permission);
        # a login not listed is no collaborator (404).
        self.permissions: dict[str, str] = {}
        # Open pull requests (GET …/pulls/{number}): number → (base sha, head sha).
        self.pulls: dict[int, tuple[str, str]] = {}
        self.reactions: list[dict[str, Any]] = []
        # The App's OAuth web flow (REPORT_AUTH=github): code → login of who signed in; the
        # user-to-server tokens given for them; the logins that can read the test repositories.
        self.oauth_codes: dict[str, str] = {}
        self.user_tokens: dict[str, str] = {}
        self.readers: set[str] = set()
        self._last_credential: str | None = None
        self.manifest_code = "one-time-code"
        self.manifest_pem = ""

    # --- test helpers -------------------------------------------------------------------------

    def add_repo(self, full_name: str, path: Path, **kwargs: Any) -> FakeRepo:
        repo = FakeRepo(path, **kwargs)
        self.repos[full_name] = repo
        return repo

    def operations(self, operation: str | None = None) -> list[Call]:
        return [c for c in self.calls if operation is None or c.operation == operation]

    def add_comment(self, repository: str, issue: int, body: str, *, login: str = "octocat", bot: bool = False) -> int:
        """A comment written by someone else than this App on an issue or pull request: a human
        (`login`), or another App's bot user (`bot`)."""
        comment_id = self._store_comment(repository, issue, body, author=login)
        self.comments[comment_id]["author_type"] = "Bot" if bot else "User"
        return comment_id

    def app_description(self) -> dict[str, Any]:
        """The App as `GET /app` (and `performed_via_github_app`) describes it."""
        app: dict[str, Any] = self.rest.example("integration")
        app.update(
            {
                "id": self.app_numeric_id,
                "slug": self.app_slug,
                "client_id": self.app_client_id,
                "name": "ChartImpact",
                "html_url": f"https://github.example/apps/{self.app_slug}",
                "permissions": {"checks": "write", "contents": "read", "issues": "write", "pull_requests": "write"},
                "events": ["pull_request", "push", "release", "check_run", "check_suite", "issue_comment"],
            }
        )
        return app

    def _user(self, author: str | None, kind: str = "User") -> dict[str, Any]:
        """GitHub's simple-user of a comment's author: someone's login, or (None) the App's bot."""
        user: dict[str, Any] = self.rest.example("issue-comment")["user"]
        login, kind = (author, kind) if author is not None else (f"{self.app_slug}[bot]", "Bot")
        user.update(
            {
                "login": login,
                "id": 1 if author is not None else 41898282,
                "type": kind,
                "url": f"https://api.github.example/users/{login}",
                "html_url": f"https://github.example/{login}"
                if author is not None
                else f"https://github.example/apps/{self.app_slug}",
            }
        )
        return user

    def runs_for(self, head_sha: str) -> list[dict[str, Any]]:
        return [r for r in self.check_runs.values() if r["head_sha"] == head_sha]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    # --- request handling -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        # The raw path: a ref such as `feature/web` arrives as one segment, `feature%2Fweb`, as
        # GitHub reads it; each parameter is decoded once the operation is known.
        path = request.rel_url.raw_path
        self.origin = f"{request.scheme}://{request.host}"  # the same for every request to this server
        if path == "/login/oauth/access_token":  # GitHub's web host, not its REST API
            return await self._oauth_access_token(request)
        if self.base_path:
            if not path.startswith(self.base_path + "/"):
                return self._violation(404, f"{request.method} {path} is outside the API base {self.base_path}")
            path = path[len(self.base_path) :]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._violation(400, f"{request.method} {path}: the body is not JSON")
        operation = self.rest.find(request.method, path)
        query = {k: v[-1] for k, v in parse_qs(request.query_string).items()}
        self.calls.append(Call(request.method, path, operation.id if operation else None, body, query))
        if operation is None:
            return self._violation(404, f"{request.method} {path} is not an operation of GitHub's REST description")
        errors = self.rest.body_errors(
            operation, body if body is not None else (None if not operation.has_body else {})
        )
        if errors:
            return self._violation(422, "; ".join(errors))
        auth = self._authenticate(request, operation.id)
        if auth is not None:
            return auth
        if self.hold is not None:
            await self.hold(self.calls[-1])
        for rule in self.rules:
            ruled = rule(self.calls[-1])
            if ruled is not None:
                return web.json_response(ruled[2], status=ruled[0], headers=ruled[1])
        for index, (op_id, status, headers, answer) in enumerate(self.injected):
            if op_id == operation.id:
                del self.injected[index]
                return web.json_response(answer, status=status, headers=headers)
        handler = getattr(self, "_op_" + operation.id.replace("/", "_").replace("-", "_"), None)
        if handler is None:
            return self._violation(501, f"the fake does not implement {operation.id}")
        segments = [unquote(segment) for segment in path.strip("/").split("/")]
        params = dict(zip(_names(operation.template), segments, strict=False))
        params = {k: v for k, v in params.items() if k}
        # Read by the handlers of user-to-server calls before their first await.
        self._last_credential = request.headers.get("Authorization", "").partition(" ")[2]
        response: web.StreamResponse = await handler(params, body, query)
        response.headers.update(self._rate_headers())
        return response

    def _violation(self, status: int, message: str) -> web.Response:
        self.violations.append(message)
        return web.json_response(
            {"message": message, "documentation_url": "https://docs.github.com/rest"}, status=status
        )

    def _authenticate(self, request: web.Request, operation: str) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if operation == "apps/create-from-manifest":  # the one-time code is the credential
            return None
        if operation.startswith("apps/"):
            if scheme.lower() != "bearer":
                return self._violation(401, f"{operation} needs the App JWT")
            try:
                claims = jwt.decode(
                    credential, self.public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
                )
            except jwt.PyJWTError as exc:
                return self._violation(401, f"invalid App JWT: {exc}")
            if str(claims["iss"]) != self.app_id or claims["exp"] - claims["iat"] > 660 or claims["iat"] > time.time():
                return self._violation(401, f"App JWT claims are wrong: {claims}")
            return None
        if credential not in self.tokens:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return None

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-used": "1",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def _repo(self, params: dict[str, str]) -> FakeRepo:
        repo = self.repos.get(f"{params['owner']}/{params['repo']}")
        if repo is None:
            raise web.HTTPNotFound(text=json.dumps({"message": "Not Found"}), content_type="application/json")
        return repo

    # --- operations -----------------------------------------------------------------------------

    async def _op_apps_create_installation_access_token(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        token = "ghs_" + secrets.token_urlsafe(30)
        self.tokens.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response({"token": token, "expires_at": expires, "permissions": {}}, status=201)

    async def _op_apps_create_from_manifest(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        if params["code"] != self.manifest_code:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(
            {
                "id": 777,
                "slug": "chartimpact",
                "name": "ChartImpact",
                "html_url": "https://github.example/apps/chartimpact",
                "pem": self.manifest_pem,
                "webhook_secret": "secret-from-github",
                "client_id": "Iv1.abc",
                "client_secret": "client-secret",
            },
            status=201,
        )

    async def _op_git_get_tree(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        repo = self._repo(params)
        sha = params["tree_sha"]
        recursive = query.get("recursive") not in (None, "", "0", "false")
        args = ["ls-tree", "-l", "-t", "-r" if recursive else "--", sha] if recursive else ["ls-tree", "-l", sha]
        listing = repo.git(*[a for a in args if a != "--"])
        if listing is None:
            return web.json_response({"message": "Not Found"}, status=404)
        entries = []
        for line in listing.splitlines():
            meta, _, name = line.partition("\t")
            mode, kind, object_sha, size = meta.split()
            entry: dict[str, Any] = {"path": name, "mode": mode, "type": kind, "sha": object_sha}
            if kind == "blob":
                entry["size"] = int(size)
            entries.append(entry)
        truncated = self.truncate_trees and recursive
        if truncated:
            entries = entries[: max(1, len(entries) // 3)]
        return web.json_response({"sha": sha, "url": "", "tree": entries, "truncated": truncated})

    async def _op_git_get_blob(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        content = self._repo(params).git("cat-file", "blob", params["file_sha"], binary=True)
        if content is None:
            return web.json_response({"message": "Not Found"}, status=404)
        encoded = base64.b64encode(content).decode()
        return web.json_response(
            {
                "sha": params["file_sha"],
                "size": len(content),
                "content": encoded,
                "encoding": "base64",
                "url": "",
                "node_id": "",
            }
        )

    async def _op_repos_get_commit(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        sha = self._repo(params).git("rev-parse", "--verify", "--quiet", f"{params['ref']}^{{commit}}")
        if not sha:
            return web.json_response({"message": "No commit found"}, status=422)
        return web.json_response({"sha": sha})

    async def _op_apps_get_repo_installation(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        repo = self.repos.get(f"{params['owner']}/{params['repo']}")
        if repo is None or repo.installation_id is None:
            return web.json_response({"message": "Not Found"}, status=404)
        installation: dict[str, Any] = self.rest.example("installation")
        installation.update({"id": repo.installation_id, "app_id": self.app_numeric_id, "app_slug": self.app_slug})
        return self._answer("apps/get-repo-installation", 200, installation)

    async def _op_repos_list_releases(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        # Tests give a release only the fields the App reads: its answer is not held to the schema.
        page, headers = self._page(
            f"/repos/{params['owner']}/{params['repo']}/releases", self._repo(params).releases, query
        )
        return web.json_response(page, headers=headers)

    async def _op_checks_create(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        problem = self._check_limits(body)
        if problem:
            return self._violation(422, problem)
        run_id = next(self._ids)
        run = {
            "id": run_id,
            "html_url": f"https://github.example/{params['owner']}/{params['repo']}/runs/{run_id}",
            "annotations": [],
            "updates": 0,
            **body,
        }
        run["annotations"] = list((body.get("output") or {}).get("annotations") or [])
        self.check_runs[run_id] = run
        return web.json_response({k: v for k, v in run.items() if k != "annotations"}, status=201)

    async def _op_checks_update(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        run = self.check_runs.get(int(params["check_run_id"]))
        if run is None:
            return web.json_response({"message": "Not Found"}, status=404)
        problem = self._check_limits(body)
        if problem:
            return self._violation(422, problem)
        output = body.get("output") or {}
        run["annotations"].extend(output.get("annotations") or [])
        run["updates"] += 1
        run.update({k: v for k, v in body.items() if k != "output"})
        if output:
            run["output"] = {k: v for k, v in output.items() if k != "annotations"}
        return web.json_response({k: v for k, v in run.items() if k != "annotations"})

    def _check_limits(self, body: dict[str, Any]) -> str | None:
        output = body.get("output") or {}
        for key in ("summary", "text"):
            if len(output.get(key) or "") > 65_535:
                return f"output.{key} is longer than 65535 characters"
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            return f"{len(annotations)} annotations in one request (at most 50)"
        for annotation in annotations:
            if len(annotation.get("title") or "") > 255:
                return "an annotation title is longer than 255 characters"
            if len((annotation.get("message") or "").encode()) > 64 * 1024:
                return "an annotation message is larger than 64 KB"
            if len((annotation.get("raw_details") or "").encode()) > 64 * 1024:
                return "an annotation's raw_details are larger than 64 KB"
        return None

    async def _op_issues_list_comments(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        key = (f"{params['owner']}/{params['repo']}", int(params["issue_number"]))
        comments = [self._public(c) for c in self.comments.values() if (c["repository"], c["issue"]) == key]
        page, headers = self._page(f"/repos/{key[0]}/issues/{key[1]}/comments", comments, query)
        return self._answer("issues/list-comments", 200, page, headers=headers)

    def _page(self, path: str, items: list[Any], query: dict[str, str]) -> tuple[list[Any], dict[str, str]]:
        """One page of a list (`per_page`, default 30, and `page`), and the `link` to the next as GitHub gives it."""
        per_page, page = int(query.get("per_page", "30")), int(query.get("page", "1"))
        headers = {}
        if page * per_page < len(items):
            url = f"{self.origin}{self.base_path}{path}?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{url}>; rel="next"'
        return items[(page - 1) * per_page : page * per_page], headers

    async def _op_issues_create_comment(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        if len(body["body"]) > 65_536:
            return self._violation(422, "the comment body is longer than 65536 characters")
        comment_id = self._store_comment(
            f"{params['owner']}/{params['repo']}", int(params["issue_number"]), body["body"]
        )
        return self._answer("issues/create-comment", 201, self._public(self.comments[comment_id]))

    async def _op_issues_update_comment(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        comment = self.comments.get(int(params["comment_id"]))
        if comment is None:
            return web.json_response({"message": "Not Found"}, status=404)
        if comment["author"] is not None:
            return self._violation(403, f"the App edited a comment written by {comment['author']}")
        if len(body["body"]) > 65_536:
            return self._violation(422, "the comment body is longer than 65536 characters")
        comment["body"] = body["body"]
        comment["edits"] += 1
        return self._answer("issues/update-comment", 200, self._public(comment))

    async def _op_apps_get_authenticated(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        return self._answer("apps/get-authenticated", 200, self.app_description())

    def _store_comment(self, repository: str, issue: int, body: str, *, author: str | None = None) -> int:
        """`author` None: written with an installation token, so by the App's bot user."""
        comment_id = next(self._ids)
        self.comments[comment_id] = {
            "id": comment_id,
            "repository": repository,
            "issue": issue,
            "body": body,
            "edits": 0,
            "author": author,
        }
        return comment_id

    def _public(self, comment: dict[str, Any]) -> dict[str, Any]:
        """The comment as GitHub's REST API shows it (an issue-comment)."""
        out: dict[str, Any] = self.rest.example("issue-comment")
        api = f"https://api.github.example/repos/{comment['repository']}"
        out.update(
            {
                "id": comment["id"],
                "node_id": f"IC_{comment['id']}",
                "url": f"{api}/issues/comments/{comment['id']}",
                "html_url": f"https://github.example/{comment['repository']}/pull/{comment['issue']}#issuecomment-{comment['id']}",
                "issue_url": f"{api}/issues/{comment['issue']}",
                "body": comment["body"],
                "user": self._user(comment["author"], comment.get("author_type", "User")),
                "author_association": "CONTRIBUTOR" if comment["author"] is not None else "NONE",
                "performed_via_github_app": self.app_description() if comment["author"] is None else None,
            }
        )
        return out

    def _answer(self, operation: str, status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        """An answer checked against the operation's response schema, like requests are."""
        errors = self.rest.response_errors(self.rest.operation(operation), status, body)
        if errors:
            self.violations.extend(errors)
        return web.json_response(body, status=status, headers=headers)

    async def _op_repos_get_collaborator_permission_level(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        self._repo(params)
        permission = self.permissions.get(params["username"])
        if permission is None:
            return web.json_response({"message": "Not Found"}, status=404)
        answer: dict[str, Any] = self.rest.example(
            "repository-collaborator-permission-response-if-user-has-admin-permissions"
        )
        answer.update({"permission": permission, "role_name": permission})
        answer["user"].update({"login": params["username"], "role_name": permission})
        return self._answer("repos/get-collaborator-permission-level", 200, answer)

    async def _op_pulls_get(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        self._repo(params)
        shas = self.pulls.get(int(params["pull_number"]))
        if shas is None:
            return web.json_response({"message": "Not Found"}, status=404)
        answer: dict[str, Any] = self.rest.example("pull-request")
        answer["number"] = int(params["pull_number"])
        answer["requested_teams"] = []  # GitHub's own example lacks a field its schema requires
        answer["base"].update({"sha": shas[0], "ref": "main"})
        answer["head"].update({"sha": shas[1], "ref": "feature"})
        return self._answer("pulls/get", 200, answer)

    async def _op_reactions_create_for_issue_comment(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        comment_id = int(params["comment_id"])
        if comment_id not in self.comments:
            return web.json_response({"message": "Not Found"}, status=404)
        self.reactions.append({"comment_id": comment_id, "content": body["content"]})
        answer: dict[str, Any] = self.rest.example("reaction")
        answer.update({"id": next(self._ids), "content": body["content"]})
        return self._answer("reactions/create-for-issue-comment", 201, answer)

    async def _oauth_access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.calls.append(Call(request.method, request.path, "oauth/access-token", dict(form), {}))
        if request.method != "POST" or request.headers.get("Accept") != "application/json":
            return self._violation(400, "the OAuth token exchange is a POST asking for JSON")
        if form.get("client_id") != self.app_client_id or form.get("client_secret") != "oauth-secret":
            return web.json_response({"error": "incorrect_client_credentials"})
        login = self.oauth_codes.pop(str(form.get("code")), None)
        if login is None:
            return web.json_response({"error": "bad_verification_code"})
        token = "ghu_" + secrets.token_hex(16)
        self.tokens.add(token)
        self.user_tokens[token] = login
        return web.json_response({"access_token": token, "token_type": "bearer", "scope": ""})

    def _signed_in(self, request_token: str | None) -> str | None:
        return self.user_tokens.get(request_token or "")

    async def _op_users_get_authenticated(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        login = self._signed_in(self._last_credential)
        if login is None:
            return web.json_response({"message": "Requires authentication"}, status=401)
        answer: dict[str, Any] = self.rest.example("private-user")
        answer["login"] = login
        return self._answer("users/get-authenticated", 200, answer)

    async def _op_repos_get(self, params: dict[str, str], body: Any, query: dict[str, str]) -> web.Response:
        self._repo(params)
        login = self._signed_in(self._last_credential)
        if login is not None and login not in self.readers:
            return web.json_response({"message": "Not Found"}, status=404)
        answer: dict[str, Any] = self.rest.example("full-repository")
        answer.update({"name": params["repo"], "full_name": f"{params['owner']}/{params['repo']}"})
        answer.setdefault("has_discussions", False)  # GitHub's example lacks a field its schema requires
        return self._answer("repos/get", 200, answer)

    async def _op_repos_create_commit_status(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> web.Response:
        if len(body.get("description") or "") > 140:
            return self._violation(422, "the status description is longer than 140 characters")
        self.statuses.append({"sha": params["sha"], **body})
        return web.json_response({"id": next(self._ids), **body}, status=201)


def _names(template: str) -> list[str]:
    return [segment[1:-1] if segment.startswith("{") else "" for segment in template.strip("/").split("/")]
