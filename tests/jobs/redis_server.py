"""Start a redis-server of our own: a free loopback port, a temporary directory, nothing persisted.

Used by the job store tests (conftest.py) and by `python -m benchmarks.store`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_server(binary: str | None = None) -> Iterator[str]:
    """Yields the server's URL (database 0); the server is stopped on exit."""
    binary = binary or shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server is not on PATH (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="chartimpact-redis-") as workdir:
        port = free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", workdir]
        process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(process, port)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for(process: subprocess.Popen[bytes], port: int) -> None:
    def answers() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    wait_until_up(process, answers, seconds=10, failure=lambda: f"redis-server did not start on port {port}")


def wait_until_up(
    process: subprocess.Popen[bytes], answers: Callable[[], bool], *, seconds: float, failure: Callable[[], str]
) -> None:
    """Poll `answers` (an OSError counts as not yet) until it is true; raise `failure()` when the
    process exits or `seconds` pass first. Shared by the tests' real servers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if answers():
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(failure())
        time.sleep(0.05)
