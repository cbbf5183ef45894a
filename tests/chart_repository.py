"""An HTTP Helm chart repository (`index.yaml` and archives) served on loopback for a test, and
chart archives of several versions as `helm package` makes them."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.test_charts import raw_archive


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def packaged(name: str, version: str, files: Mapping[str, str], *, chart_extra: str = "") -> bytes:
    """The archive of chart `name` at `version`: its Chart.yaml, then `files` (paths in the chart)."""
    chart = f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n{chart_extra}"
    members = {f"{name}/Chart.yaml": chart.encode()}
    members.update({f"{name}/{path}": text.encode() for path, text in files.items()})
    return raw_archive(members)


@contextmanager
def http_repository(root: Path, archives: Mapping[tuple[str, str], bytes]) -> Iterator[str]:
    """Serve `archives` ((name, version) → .tgz) with their index from `root`; yields the URL."""
    root.mkdir(parents=True, exist_ok=True)
    entries: dict[str, list[dict[str, object]]] = {}
    for (name, version), data in archives.items():
        (root / f"{name}-{version}.tgz").write_bytes(data)
        entries.setdefault(name, []).append(
            {
                "name": name,
                "version": version,
                "urls": [f"{name}-{version}.tgz"],
                "digest": hashlib.sha256(data).hexdigest(),
            }
        )
    (root / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": entries}))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
