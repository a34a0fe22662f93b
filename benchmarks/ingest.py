"""Ingestion throughput: `footfall serve` under SDK-shaped load, durable acknowledgement included.

For each flavour, a fresh data dir and server process; a separate load-generator process posts
pre-encoded 100-event batches over keep-alive connections (N in flight) for a fixed duration. The driver
polls `/_health` and `/metrics` for the flusher's lag, waits for the drain, stops the server and counts
the stored rows in the engine, which must equal the acknowledged events.

    .venv/bin/python benchmarks/ingest.py                                   # both flavours, the working tree
    .venv/bin/python benchmarks/ingest.py --baseline-ref c41addd --rounds 2  # and that commit's src/, alternating
    .venv/bin/python benchmarks/ingest.py --baseline-src OTHER/src           # or another copy's src/

Figures are noisy on a shared machine: compare variants within one run (`--baseline-ref`), and read the server's
CPU per event next to the rates. Loopback only; every loop is bounded by a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
# Replaced per request by the request's sequence number (8 hex digits), so every event's uuid /
# insert_id is unique across the whole run while bodies stay pre-encoded.
MARKER = b"@SEQ@SEQ"
PATHS = {"posthog": "/batch/", "amplitude": "/2/httpapi"}
EVENT_NAMES = ["$pageview", "button_clicked", "search", "view_item", "add_to_cart", "signed_in", "purchase"]
COUNTRIES = ["United States", "Germany", "France", "India", "Brazil", "United Kingdom", "Japan", "Canada"]
CITIES = ["New York", "Berlin", "Paris", "Mumbai", "São Paulo", "London", "Tokyo", "Toronto"]


# -- request bodies ------------------------------------------------------------------------------
def _users(rng: random.Random, users: int, count: int) -> list[int]:
    """Every user once (shuffled), then a skewed draw: a few users are much busier than most."""
    order = list(range(users))
    rng.shuffle(order)
    picks = order[:count]
    while len(picks) < count:
        picks.append(min(int(rng.paretovariate(1.2)) - 1, users - 1) if rng.random() < 0.5 else rng.randrange(users))
    rng.shuffle(picks)
    return picks


def _uuid_template(template: int, index: int, rng: random.Random) -> str:
    return f"{MARKER.decode()}-{template:04x}-4{index:03x}-8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}000+00:00"


def posthog_bodies(api_key: str, users: int, batch: int, rng: random.Random) -> list[bytes]:
    """`{"api_key", "batch", "sent_at"}` as posthog-python's consumer posts it."""
    now = int(time.time() * 1000)
    templates = max(64, math.ceil(2 * users / batch))
    picks = _users(rng, users, templates * batch)
    bodies = []
    for t in range(templates):
        events = []
        for i in range(batch):
            user = picks[t * batch + i]
            name = rng.choice(EVENT_NAMES)
            props: dict[str, Any] = {
                "$lib": "posthog-python",
                "$lib_version": "7.0.0",
                "$geoip_disable": True,
                "$session_id": f"0190{user:08x}-7000-8000-{user:012x}",
                "$current_url": f"https://shop.example.com/p/{rng.randrange(500)}",
                "plan": rng.choice(["free", "pro", "team"]),
                "path": f"/p/{rng.randrange(500)}",
                "button": rng.choice(["buy", "save", "share"]),
                "value": round(rng.random() * 100, 2),
                "experiment": rng.choice(["control", "test"]),
            }
            if rng.random() < 0.03:  # posthog.capture(..., properties={"$set": ...}) now and then
                props["$set"] = {"plan": props["plan"], "email": f"user{user}@example.com"}
            events.append(
                {
                    "event": name,
                    "distinct_id": f"user-{user}",
                    "properties": props,
                    "timestamp": _iso(now - rng.randrange(5000)),
                    "uuid": _uuid_template(t, i, rng),
                }
            )
        body = {"api_key": api_key, "batch": events, "sent_at": _iso(now)}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def amplitude_bodies(api_key: str, users: int, batch: int, rng: random.Random) -> list[bytes]:
    """`{"api_key", "events"}` as amplitude-python's HTTP V2 destination posts it."""
    now = int(time.time() * 1000)
    templates = max(64, math.ceil(2 * users / batch))
    picks = _users(rng, users, templates * batch)
    platforms = [
        ("iOS", "ios", "17.4", "iPhone15,2"),
        ("Android", "android", "14", "Pixel 8"),
        ("Web", "Chrome", "124", ""),
    ]
    bodies = []
    for t in range(templates):
        events = []
        for i in range(batch):
            user = picks[t * batch + i]
            platform, os_name, os_version, model = platforms[user % 3]
            event: dict[str, Any] = {
                "device_id": f"device-{user:06d}-{user * 7919 % 100000:05d}",
                "event_type": rng.choice(EVENT_NAMES[1:]),
                "time": now - rng.randrange(60_000),
                "insert_id": _uuid_template(t, i, rng),
                "event_properties": {
                    "path": f"/p/{rng.randrange(500)}",
                    "button": rng.choice(["buy", "save", "share"]),
                    "value": round(rng.random() * 100, 2),
                    "experiment": rng.choice(["control", "test"]),
                },
                "session_id": now - (user % 3600) * 1000,
                "platform": platform,
                "os_name": os_name,
                "os_version": os_version,
                "device_model": model,
                "country": COUNTRIES[user % len(COUNTRIES)],
                "city": CITIES[user % len(CITIES)],
                "language": "en-US",
                "app_version": "3.2.1",
                "library": "amplitude-python/1.3.0",
            }
            if user % 10 < 7:  # most users are signed in: user_id and device_id together
                event["user_id"] = f"user-{user:06d}"
            if rng.random() < 0.03:
                event["user_properties"] = {"$set": {"plan": rng.choice(["free", "pro"])}}
            events.append(event)
        bodies.append(json.dumps({"api_key": api_key, "events": events}, separators=(",", ":")).encode())
    return bodies


# -- load generator (its own process) --------------------------------------------------------------
async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return status, body


async def _load(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    make = posthog_bodies if args.flavour == "posthog" else amplitude_bodies
    bodies = make(args.api_key, args.users, args.batch, rng)
    head = (
        f"POST {PATHS[args.flavour]} HTTP/1.1\r\nHost: {HOST}:{args.port}\r\n"
        "Content-Type: application/json\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: "
    ).encode()
    latencies: list[float] = []
    counts = {"acked": 0, "errors": 0}
    statuses: dict[int, int] = {}
    sequence = iter(range(1 << 32))
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + args.duration

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, args.port)
        try:
            while time.perf_counter() < deadline:
                seq = next(sequence)
                body = bodies[seq % len(bodies)].replace(MARKER, b"%08x" % seq)
                sent = time.perf_counter()
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                status, _ = await _read_response(reader)
                latencies.append(time.perf_counter() - sent)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    counts["acked"] += args.batch
                else:
                    counts["errors"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "acked": counts["acked"],
        "errors": counts["errors"],
        "statuses": statuses,
        "requests": len(latencies),
        "seconds": elapsed,
        "events_per_s": counts["acked"] / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None,
        "loadgen_cpu_s": time.process_time() - cpu0,
        "templates": len(bodies),
        "body_bytes": statistics.mean(len(b) for b in bodies),
    }


def run_loadgen(args: argparse.Namespace) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(_load(args))
    result["loadgen_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# -- driver ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc); 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, data_dir: Path, src: Path | None, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.env = {**os.environ, **env}
        if src is not None:  # run another checkout's package (the baseline) instead of the installed one
            self.env["PYTHONPATH"] = os.pathsep.join([str(src), self.env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.log = data_dir.parent / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._conn: http.client.HTTPConnection | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "footfall", *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
            timeout=120,
        )
        return out.stdout

    def start(self, timeout: float = 90) -> None:
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
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                self.health()
                return
            time.sleep(0.2)
        raise RuntimeError("server did not start in time")

    def _get(self, path: str) -> bytes:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
            try:
                self._conn.request("GET", path)
                return self._conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def health(self) -> dict[str, Any]:
        return json.loads(self._get("/_health"))

    def ingested(self) -> int:
        """Events acknowledged so far, from the Prometheus counter."""
        text = self._get("/metrics").decode()
        return int(sum(float(v) for v in re.findall(r"^footfall_events_ingested_total\{[^}]*\} (\S+)", text, re.M)))

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_COUNT = """
import sys, chdb
conn = chdb.connect(sys.argv[1])
print(conn.query("SELECT count(), uniqExact(uuid), uniqExact(person_id) FROM events", "CSV").bytes().decode())
"""


@dataclass
class Result:
    variant: str
    flavour: str
    load: dict[str, Any] = field(default_factory=dict)
    max_lag_bytes: int = 0
    max_lag_events: int = 0
    lag_samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the load, events behind)
    lag_events_at_stop: int = 0
    drain_s: float | None = None
    events_flushed: int = 0
    duplicates_dropped: int = 0
    stored: int = -1
    stored_persons: int = -1
    server_cpu_s: float = 0.0  # during the load
    server_cpu_total_s: float = 0.0  # from the load's start to the end of the drain

    @property
    def stored_per_s(self) -> float:
        """Events the flusher stored per second while the load ran (acknowledged minus the lag at the end)."""
        return (self.load["acked"] - self.lag_events_at_stop) / self.load["seconds"]

    @property
    def late_lag_events(self) -> float:
        """Mean flusher lag over the second half of the load: whether it keeps up once users are known."""
        half = [lag for t, lag in self.lag_samples if t >= self.load["seconds"] / 2]
        return statistics.mean(half) if half else float("nan")

    @property
    def ok(self) -> bool:
        acked = self.load.get("acked", -1)
        return self.stored == acked == self.events_flushed and not self.load.get("errors")


def run_scenario(variant: str, src: Path | None, flavour: str, args: argparse.Namespace) -> Result:
    result = Result(variant, flavour)
    with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
        server = Server(Path(tmp) / "data", src, {"FOOTFALL_LOG_LEVEL": "warning"})
        server.start()
        try:
            api_key = json.loads(server.cli("project", "create", "bench", "--json"))["api_key"]
            cpu0 = _cpu_seconds(server.proc.pid)  # type: ignore[union-attr]
            loadgen = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--loadgen",
                    "--flavour",
                    flavour,
                    "--port",
                    str(server.port),
                    "--api-key",
                    api_key,
                    "--duration",
                    str(args.duration),
                    "--concurrency",
                    str(args.concurrency),
                    "--users",
                    str(args.users),
                    "--batch",
                    str(args.batch),
                    "--seed",
                    str(args.seed),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            started = time.monotonic()
            while loadgen.poll() is None and time.monotonic() < started + args.duration + 120:
                time.sleep(0.5)
                health = server.health()
                result.max_lag_bytes = max(result.max_lag_bytes, health["ingestion_lag_bytes"])
                lag = server.ingested() - health["events_flushed"]
                result.max_lag_events = max(result.max_lag_events, lag)
                result.lag_samples.append((time.monotonic() - started, lag))
            out, _ = loadgen.communicate(timeout=30)
            stopped = time.monotonic()
            result.load = json.loads(out.strip().splitlines()[-1])
            result.server_cpu_s = _cpu_seconds(server.proc.pid) - cpu0  # type: ignore[union-attr]
            result.lag_events_at_stop = result.load["acked"] - server.health()["events_flushed"]
            while time.monotonic() - stopped < args.drain_timeout:
                health = server.health()
                if health["ingestion_lag_bytes"] == 0 and health["events_flushed"] >= result.load["acked"]:
                    result.drain_s = time.monotonic() - stopped
                    break
                time.sleep(0.05)
            result.server_cpu_total_s = _cpu_seconds(server.proc.pid) - cpu0  # type: ignore[union-attr]
            health = server.health()
            result.events_flushed = health["events_flushed"]
            result.duplicates_dropped = health["duplicates_dropped"]
        finally:
            server.stop()
        counted = subprocess.run(
            [sys.executable, "-c", _COUNT, str(server.data_dir / "chdb")],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        result.stored, _, result.stored_persons = (int(x) for x in counted.stdout.strip().split(","))
    return result


def _baseline_src(ref: str, into: Path) -> Path:
    """`src/` of a git ref, extracted into a temp dir (the server then runs that code)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _fmt(result: Result) -> str:
    load = result.load
    drain = f"{result.drain_s:.2f} s" if result.drain_s is not None else "timeout"
    return (
        f"| {result.variant} | {result.flavour} | {load['events_per_s']:,.0f} | {result.stored_per_s:,.0f}"
        f" | {load['p50_ms']:.1f} ms"
        f" | {load['p99_ms']:.1f} ms | {result.max_lag_events:,} ev / {result.max_lag_bytes / 1e6:.1f} MB"
        f" | {result.late_lag_events:,.0f} ev ({result.late_lag_events / load['events_per_s']:.1f} s)"
        f" | {result.lag_events_at_stop:,} | {drain} | {result.server_cpu_s / load['seconds']:.0%}"
        f" | {1e6 * result.server_cpu_total_s / max(1, load['acked']):.0f} µs"
        f" | {load['loadgen_cpu_s'] / load['seconds']:.0%} | {load['acked']:,} = {result.stored:,}"
        f" {'ok' if result.ok else 'MISMATCH'} |"
    )


def run_driver(args: argparse.Namespace) -> None:
    flavours = ["posthog", "amplitude"] if args.flavour == "both" else [args.flavour]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="footfall-baseline-") as tmp:
        variants: list[tuple[str, Path | None]] = [("current", None)]
        if args.baseline_ref:
            variants.insert(0, (f"baseline {args.baseline_ref}", _baseline_src(args.baseline_ref, Path(tmp))))
        elif args.baseline_src:
            variants.insert(0, ("baseline", Path(args.baseline_src)))
        for round_ in range(args.rounds):
            for flavour in flavours:
                for name, src in variants if round_ % 2 == 0 else variants[::-1]:  # alternate the order
                    result = run_scenario(name, src, flavour, args)
                    results.append(result)
                    print(_fmt(result), file=sys.stderr, flush=True)
    header = (
        "| variant | flavour | acked/s | stored/s | p50 | p99 | max flusher lag | mean lag, 2nd half | lag at stop"
        " | drain | server CPU | server CPU per event | loadgen CPU | acked = stored |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    print(header)
    for result in results:
        print(_fmt(result))
    if len(variants) == 2:
        measures = {
            "acked/s": lambda r: r.load["events_per_s"],
            "stored/s": lambda r: r.stored_per_s,
            "server CPU per event": lambda r: r.server_cpu_total_s / max(1, r.load["acked"]),
        }
        print()
        for flavour in flavours:
            ratios = []
            for label, measure in measures.items():
                base, cur = (
                    statistics.median(measure(r) for r in results if r.variant == name and r.flavour == flavour)
                    for name, _ in variants
                )
                ratios.append(f"{label} {cur / base:.2f}x")
            print(f"{flavour}, current / baseline (medians of {args.rounds}): {', '.join(ratios)}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=2))
    if not all(r.ok for r in results):
        sys.exit("acknowledged and stored counts differ (or requests failed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flavour", choices=["posthog", "amplitude", "both"], default="both")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (one connection each)")
    parser.add_argument("--users", type=int, default=20_000, help="distinct users in the traffic")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="repeat every scenario (order alternates)")
    parser.add_argument("--baseline-ref", help="also run the server from this git ref's src/, side by side")
    parser.add_argument("--baseline-src", help="or from this src/ directory (e.g. a copy without a change)")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json", help="write raw results here")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        run_loadgen(args)
    else:
        run_driver(args)


if __name__ == "__main__":
    main()
