"""The `footfall` command."""

from __future__ import annotations

import gc
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from footfall import admin, logs
from footfall.config import Settings
from footfall.ops import OPS
from footfall.runtime import DataDirBusy, Runtime

app = typer.Typer(
    help="footfall: self-hosted product analytics for the Amplitude and PostHog SDKs.",
    no_args_is_help=True,
    add_completion=False,
)
project_app = typer.Typer(help="Projects (each has its own API key, secret and time zone).", no_args_is_help=True)
key_app = typer.Typer(help="Personal API keys for the PostHog REST API.", no_args_is_help=True)
app.add_typer(project_app, name="project")
app.add_typer(key_app, name="key")
admin_app = typer.Typer(help="The admin user who signs in to the web UI.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

err = Console(stderr=True)
LOCK_WAIT_SECONDS = 120  # how long a command waits for another one holding the data dir
DataDirOption = typer.Option(None, "--data-dir", help="Data directory [env FOOTFALL_DATA_DIR, default ./footfall-data]")


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    return Settings().with_overrides(data_dir=data_dir, **overrides)


def run_op(settings: Settings, op: str, args: dict[str, Any], label: str = "") -> dict[str, Any]:
    """Run an operation on the data dir: directly, or through the server that owns it."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not label,
    ) as bar:
        task = bar.add_task(label, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        # Open the data dir, or run in the server that owns it. When another CLI command holds it (or a
        # server is still starting), wait for it: commands on one data dir run one after the other.
        started, told = time.monotonic(), False
        deadline = started + LOCK_WAIT_SECONDS
        while True:
            try:
                runtime = Runtime(settings)
                break
            except DataDirBusy as busy:
                try:
                    for line in admin.remote(settings.data_dir, op, args):
                        if "progress" in line:
                            progress(*line["progress"])
                        elif "error" in line:
                            raise typer.BadParameter(line["error"]) from None
                        elif "result" in line:
                            return line["result"]
                    raise RuntimeError("the server ended the command without a result") from None
                except admin.NoServer as no_server:
                    if time.monotonic() > deadline:
                        err.print(f"[red]{busy}; {no_server}[/red]")
                        raise typer.Exit(1) from None
                    if not told and time.monotonic() > started + 2:  # say so once it takes a while
                        err.print(f"{busy}; waiting for it...", highlight=False)
                        told = True
                    time.sleep(0.2)
        try:
            return OPS[op](runtime, progress, **args)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        finally:
            runtime.close()


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on [env FOOTFALL_HOST, default 127.0.0.1]"),
    port: int = typer.Option(None, help="Port [env FOOTFALL_PORT, default 8000]"),
    data_dir: Path | None = DataDirOption,
    demo: bool = typer.Option(False, "--demo", help="Create a 'demo' project with generated data if missing"),
    demo_events: int = typer.Option(1_000_000, help="Events the --demo project gets"),
) -> None:
    """Run the server: ingestion, APIs and web UI, in one process."""
    import uvicorn

    from footfall.app import create_app

    settings = _settings(data_dir, host=host, port=port)
    logs.configure(settings.log_level)
    try:
        runtime = Runtime(settings)
    except DataDirBusy as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    token = secrets.token_urlsafe(32)
    admin_file = admin.write_admin_file(
        settings.data_dir, f"http://{_local_address(settings.host)}:{settings.port}", token
    )
    application = create_app(settings, runtime)
    application.state.admin_token = token
    _tune_gc()
    if demo:
        threading.Thread(target=_demo_if_missing, args=(runtime, demo_events), daemon=True).start()
    err.print(f"footfall listening on http://{settings.host}:{settings.port} (data in {settings.data_dir})")
    try:
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            loop="uvloop",
            http="httptools",
            timeout_keep_alive=30,
        )
    finally:
        admin_file.unlink(missing_ok=True)
        runtime.close()


def _tune_gc() -> None:
    """Fewer cyclic-GC passes for a long-running server.

    Under ingest load the process allocates millions of short-lived objects a second while the flusher
    holds tens of thousands of events; with the default thresholds the collector took about 20% of the
    CPU (measured with benchmarks/ingest.py). Startup objects (modules, engine, app) are never garbage, so
    they are frozen out of every pass; young cycles are still collected every 50,000 allocations.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _local_address(host: str) -> str:
    """Where a local CLI reaches this server: loopback for a wildcard bind, else the bound address."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _demo_if_missing(runtime: Runtime, events: int) -> None:
    from footfall.meta.accounts import AccountError, project_by_name

    with runtime.meta.session() as session:
        try:
            project_by_name(session, "demo")
            return
        except AccountError:
            pass
    err.print(f"generating the demo project ({events:,} events)...")
    result = OPS["demo"](runtime, lambda done, total: None, events=events, days=30)
    err.print(f"demo project ready: api_key={result['api_key']}")


@project_app.command("create")
def project_create(
    name: str,
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone for day/week/month buckets"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create a project and print its keys (the secret is shown only now)."""
    _print(run_op(_settings(data_dir), "project_create", {"name": name, "timezone": timezone}), as_json)


@key_app.command("create")
def key_create(
    scopes: str = typer.Option("*", "--scopes", help='Comma-separated scopes, e.g. "dashboard:read,query:read"'),
    label: str = typer.Option("", "--label"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create a personal API key (phx_...) for the admin user; it is shown only now."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    result = run_op(_settings(data_dir), "key_create", {"scopes": scope_list, "label": label})
    _print({"key": result["key"]} if as_json else result, as_json)


@admin_app.command("password")
def admin_password(
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, envvar="FOOTFALL_ADMIN_PASSWORD"
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Set the password of the web UI's admin user (admin@localhost); other browser sessions end."""
    _print(run_op(_settings(data_dir), "admin_password", {"password": password}), False)


@app.command()
def demo(
    events: int = typer.Option(1_000_000, "--events", help="How many events to generate"),
    days: int = typer.Option(30, "--days", help="Over how many days up to today"),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same data)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Generate a realistic data set into a project named 'demo' (replacing its events)."""
    if events < 1 or days < 1:
        raise typer.BadParameter("--events and --days must be positive")
    result = run_op(
        _settings(data_dir), "demo", {"events": events, "days": days, "seed": seed}, label="generating demo data"
    )
    _print(result, as_json)


import_app = typer.Typer(help="Bring in data exported from other analytics products.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@app.command("export")
def export(
    project: str = typer.Option(..., "--project", help="Project name"),
    start: str = typer.Option(..., "--start", help="First upload hour, YYYYMMDDTHH or YYYYMMDD (UTC)"),
    end: str = typer.Option(..., "--end", help="Last upload hour (included), YYYYMMDDTHH or YYYYMMDD (UTC)"),
    output: Path = typer.Option(..., "-o", "--output", help="The zip file to write", dir_okay=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Export events as Amplitude's Export API zip: the events uploaded from --start to --end."""
    args = {"project": project, "start": start, "end": end, "output": str(output.resolve())}
    _print(run_op(_settings(data_dir), "export_amplitude", args, label="exporting events"), as_json)


@import_app.command("amplitude")
def import_amplitude(
    files: list[Path] = typer.Argument(..., help="Amplitude export zips", exists=True, dir_okay=False),
    project: str = typer.Option(..., "--project", help="Project name"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Import Amplitude export zips into a project; events already imported are skipped."""
    args = {"project": project, "files": [str(f.resolve()) for f in files]}
    _print(run_op(_settings(data_dir), "import_amplitude", args, label="importing (bytes read)"), as_json)
