"""Shared fixtures.

chDB allows one database per process, so in-process tests share one Runtime (one data dir) for the whole
session and isolate themselves by creating their own project. End-to-end tests (real SDKs, crashes) run
`footfall serve` as a separate process through `ServerProcess`.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from footfall.meta.accounts import create_project
from footfall.runtime import Runtime

pytest_plugins = ["tests.datasets", "tests.browser"]
_names = itertools.count()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), flush_interval_ms=20)
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime.settings, runtime)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def new_project(runtime: Runtime, timezone: str = "UTC") -> dict[str, Any]:
    with runtime.meta.session() as session, session.begin():
        return create_project(session, f"test-{os.getpid()}-{next(_names)}", timezone)


@pytest.fixture
def project(runtime: Runtime) -> dict[str, Any]:
    return new_project(runtime)


def flush(runtime: Runtime) -> None:
    """Make everything acknowledged so far visible to queries."""
    while runtime.flusher.flush_once():
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`footfall serve` in its own process, on a free port, with its own data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FOOTFALL_FLUSH_INTERVAL_MS": "50", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}-server.log"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "footfall", *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
            timeout=300,
        )

    def start(self, timeout: float = 60) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "footfall", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/_health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_flushed(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = httpx.get(self.url + "/_health", timeout=5).json()
            if health["ingestion_lag_bytes"] == 0:
                return
            time.sleep(0.05)
        raise TimeoutError("events were not flushed in time")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data")
    yield proc
    proc.stop()
