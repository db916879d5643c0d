"""Start and stop the real Vectorizer server as a subprocess on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server process over one storage directory; can be killed and restarted."""

    def __init__(self, storage: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None, cwd: Path | None = None) -> None:
        self.storage = storage
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.extra_env = dict(env or {})
        self.args = list(args or [])
        self.cwd = cwd or storage.parent
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = storage.parent / f"server-{self.http_port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = dict(os.environ)
        env.update({
            "QDRANT__SERVICE__HTTP_PORT": str(self.http_port),
            "QDRANT__SERVICE__GRPC_PORT": str(self.grpc_port),
            "QDRANT__SERVICE__HOST": "127.0.0.1",
            "QDRANT__STORAGE__STORAGE_PATH": str(self.storage),
            "QDRANT__STORAGE__SNAPSHOTS_PATH": str(self.storage.parent / "snapshots"),
            "QDRANT__TELEMETRY_DISABLED": "true",
        })
        env.update(self.extra_env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vectorizer", *self.args],
            env=env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server did not become ready:\n{self.logs()}")

    def logs(self, tail: int | None = 5000) -> str:
        """The server's output (every start of it), its last `tail` characters by default
        (for error messages); `tail=None` for all of it."""
        try:
            text = self.log_path.read_text(errors="replace")
            return text if tail is None else text[-tail:]
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def restart(self, kill: bool = False) -> ServerProcess:
        self.kill9() if kill else self.stop()
        return self.start()
