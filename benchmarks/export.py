"""Export and import throughput, and the server's memory while they run.

For each size: a fresh data dir with `footfall demo --events N` (30 days), then `footfall serve` on it.
Export: one `GET /api/2/export` over the whole range, the zip streamed to a file by this process, while a
sampler reads the server's RSS from /proc every 50 ms (and its peak, `VmHWM`, reset before the phase).
Import: the same zip into a new project through the running server (`footfall import amplitude`, routed
over the admin channel), sampled the same way. The server's CPU seconds are reported too, because the
machine may be shared: wall-clock rates move with its load, CPU per event much less.

    .venv/bin/python benchmarks/export.py                       # 1M and 10M events, import of 1M
    .venv/bin/python benchmarks/export.py --sizes 1000000 3000000 --import-sizes 1000000

Linux only (/proc). Every wait is bounded by a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
DAYS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(data_dir: Path, *args: str, timeout: float = 7200) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "footfall", *args, "--json", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(f"footfall {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Sampler:
    """The server's RSS every 50 ms during a phase; `peak` also takes the kernel's high-water mark."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        with contextlib.suppress(OSError):  # reset VmHWM to the current RSS (Linux 4.0+)
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.start_rss = _status(self.pid)["VmRSS"]
        self.start_cpu = _cpu_seconds(self.pid)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.samples.append(_status(self.pid)["VmRSS"])

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        status = _status(self.pid)
        self.peak = max([status["VmHWM"], status["VmRSS"], *self.samples])
        self.cpu = _cpu_seconds(self.pid) - self.start_cpu


@dataclass
class Server:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.data_dir.parent / "server.log", "ab")  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "footfall", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited; see server.log")
            try:
                if httpx.get(self.url + "/_health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _range() -> tuple[str, str]:
    now = dt.datetime.now(dt.UTC)
    return (now - dt.timedelta(days=DAYS + 1)).strftime("%Y%m%dT00"), now.strftime("%Y%m%dT%H")


def run(events: int, with_import: bool, work: Path) -> dict[str, Any]:
    data_dir = work / f"data-{events}"
    started = time.perf_counter()
    demo = _cli(data_dir, "demo", "--events", str(events), "--days", str(DAYS))
    result: dict[str, Any] = {"events": events, "demo_seconds": round(time.perf_counter() - started, 1)}
    server = Server(data_dir, _free_port())
    server.start()
    assert server.proc is not None
    try:
        start, end = _range()
        zip_path = work / f"export-{events}.zip"
        with Sampler(server.proc.pid) as sampled:
            began = time.perf_counter()
            size = 0
            with (
                httpx.stream(
                    "GET",
                    server.url + "/api/2/export",
                    params={"start": start, "end": end},
                    auth=(demo["api_key"], demo["secret_key"]),
                    timeout=httpx.Timeout(600, connect=10),
                ) as r,
                open(zip_path, "wb") as f,
            ):
                if r.status_code != 200:
                    raise RuntimeError(f"export answered {r.status_code}: {r.read()[:300]!r}")
                for chunk in r.iter_bytes(1 << 20):
                    f.write(chunk)
                    size += len(chunk)
            seconds = time.perf_counter() - began
        result["export"] = {
            "seconds": round(seconds, 1),
            "events_per_s": round(events / seconds),
            "zip_mb": round(size / 1e6, 1),
            "zip_mb_per_s": round(size / 1e6 / seconds, 1),
            "server_cpu_s": round(sampled.cpu, 1),
            "server_rss_before_mb": round(sampled.start_rss / 1e6),
            "server_rss_peak_mb": round(sampled.peak / 1e6),
        }
        print(json.dumps(result), flush=True)
        if with_import:
            _cli(data_dir, "project", "create", "imported")
            with Sampler(server.proc.pid) as sampled:
                began = time.perf_counter()
                report = _cli(data_dir, "import", "amplitude", str(zip_path), "--project", "imported")
                seconds = time.perf_counter() - began
            assert report["imported"] == events and not report["skipped"], report
            result["import"] = {
                "seconds": round(seconds, 1),
                "events_per_s": round(events / seconds),
                "server_cpu_s": round(sampled.cpu, 1),
                "server_rss_before_mb": round(sampled.start_rss / 1e6),
                "server_rss_peak_mb": round(sampled.peak / 1e6),
            }
    finally:
        server.stop()
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--import-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs and zips")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="footfall-export-bench-"))
    print(f"working in {work} on {os.cpu_count()} cores", file=sys.stderr)
    try:
        for events in args.sizes:
            print(json.dumps(run(events, events in args.import_sizes, work)), flush=True)
            if not args.keep:
                subprocess.run(["rm", "-rf", str(work / f"data-{events}")], check=False)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
