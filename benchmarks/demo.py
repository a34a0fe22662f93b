"""`footfall demo` at scale, then the idle memory of `footfall serve` on the data it made.

1. `footfall demo --events N` in a fresh data dir, as a subprocess: wall time, CPU time, peak RSS.
2. `footfall serve` on that data dir: once healthy, it idles for a while; its RSS is read from /proc every
   second (background merges of the fresh parts may still be running: the samples show it).

    .venv/bin/python benchmarks/demo.py                       # 10M events over 30 days
    .venv/bin/python benchmarks/demo.py --events 1000000 --idle 5

Loopback only; every wait is bounded by a deadline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    import chdb  # the figures depend on its version

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "chdb": chdb.__version__,
    }


def _dir_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def run_demo(data_dir: Path, events: int, days: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    command = ["demo", "--events", str(events), "--days", str(days), "--json", "--data-dir", str(data_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "footfall", *command],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"footfall demo failed:\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "events": result["events"],
        "persons": result["persons"],
        "wall_s": round(wall, 1),
        "generate_s": result["seconds"],  # inside the command, after start-up
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "peak_rss_mib": round(after.ru_maxrss / 1024),
        "load_average_before": round(load, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
        "data_dir_mib": _dir_mib(data_dir),
    }


def idle_serve(data_dir: Path, idle: float) -> dict[str, Any]:
    port = _free_port()
    log = open(data_dir.parent / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "footfall", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        started = time.perf_counter()
        _wait_healthy(proc, port, deadline=started + 120)
        ready = time.perf_counter() - started
        samples = []
        for _ in range(int(idle)):
            time.sleep(1)
            samples.append(round(_proc_kib(proc.pid, "VmRSS") / 1024))
        return {
            "ready_s": round(ready, 1),
            "idle_s": int(idle),
            "rss_mib": samples[-1],
            "rss_samples_mib": samples,
            "peak_rss_mib": round(_proc_kib(proc.pid, "VmHWM") / 1024),
            "threads": _proc_kib(proc.pid, "Threads"),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("footfall serve exited; see serve.log")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/_health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("footfall serve did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds serve idles before RSS is read")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="footfall-demo-bench-"))
    try:
        report = {"machine": _machine()}
        report["demo"] = run_demo(workdir / "data", args.events, args.days)
        print(f"demo:  {json.dumps(report['demo'])}", flush=True)
        report["serve"] = idle_serve(workdir / "data", args.idle)
        print(f"serve: {json.dumps(report['serve'])}", flush=True)
        print(json.dumps(report))
    finally:
        if args.keep:
            print(f"data dir kept: {workdir / 'data'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
