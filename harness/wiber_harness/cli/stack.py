"""Stack commands: ``doctor``, ``up``, ``status``, ``down``.

``up`` runs the stack in the foreground with a live status table; Ctrl-C
tears it down. ``up --detach`` starts a supervisor process in its own
session that owns the stack, and returns when the stack is ready. The
supervisor refreshes ``cluster.json`` in the stack folder every few
seconds; ``status`` reads it; ``down`` asks the supervisor to stop (SIGTERM)
and waits until no process of the stack is left. The supervisor also serves
node verbs (``wiber-harness node``, :mod:`wiber_harness.cluster.control`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import psutil

from wiber_harness.cli import cli
from wiber_harness.cli._common import backend_option, parse_sets, sets_option
from wiber_harness.cluster.base import STATE_FILE, Cluster, ClusterConfig
from wiber_harness.cluster.factory import make_cluster
from wiber_harness.cluster.system_spec import DEFAULT_SYSTEM
from wiber_harness.errors import ClusterError
from wiber_harness.verdict import EXIT_UNKNOWN

if TYPE_CHECKING:
    from wiber_harness.cluster.control import ControlServer

DEFAULT_STACK_DIR = Path("reports") / "stack"
F = TypeVar("F", bound=Callable[..., Any])


def _config(
    stack_dir: Path,
    consumers: int,
    apis: int,
    partitions: int,
    sets: tuple[str, ...],
    no_system: bool,
) -> ClusterConfig:
    return ClusterConfig(
        run_dir=stack_dir,
        consumers=consumers,
        apis=apis,
        partitions=partitions,
        settings=parse_sets(sets),
        system=None if no_system else DEFAULT_SYSTEM,
        akhq=True,  # compose: also start AKHQ (the local backend has none)
    )


@cli.command()
@click.option("--fix", is_flag=True, help="Provision what is missing into the cache.")
def doctor(fix: bool) -> int:
    """Say what was found, where, and how to fix what is missing."""
    from wiber_harness.provision import doctor as run_doctor

    lines = run_doctor(fix=fix)
    bad = 0
    for ln in lines:
        mark = click.style("ok  ", fg="green") if ln.ok else click.style("MISSING", fg="red")
        click.echo(f"{mark} {ln.component:<10} {ln.where}  ({ln.how})")
        if not ln.ok:
            bad += 1
            click.echo(f"        fix: {ln.fix}")
    if bad and not fix:
        click.echo("run 'wiber-harness doctor --fix' to provision what is missing")
    return EXIT_UNKNOWN if bad else 0


def _dir_option(help: str | None = None) -> Callable[[F], F]:
    """``--dir STACK_DIR`` (default reports/stack)."""
    return click.option(
        "--dir",
        "stack_dir",
        type=click.Path(path_type=Path),
        default=DEFAULT_STACK_DIR,
        show_default=True,
        help=help,
    )


def _stack_options(f: F) -> F:
    for opt in reversed(
        [
            _dir_option("Stack folder (logs, data, cluster.json)."),
            click.option("--consumers", default=2, show_default=True),
            click.option("--apis", default=1, show_default=True),
            click.option("--partitions", default=6, show_default=True),
            sets_option("System setting (env) override."),
            click.option(
                "--no-system", is_flag=True, help="Start only Kafka, the store and Toxiproxy."
            ),
        ]
    ):
        f = opt(f)
    return f


@cli.command()
@_stack_options
@click.option(
    "--detach", is_flag=True, help="Return when ready; the stack keeps running until 'down'."
)
@backend_option
@click.option("--serve", is_flag=True, hidden=True)
def up(
    stack_dir: Path,
    consumers: int,
    apis: int,
    partitions: int,
    sets: tuple[str, ...],
    no_system: bool,
    detach: bool,
    backend: str,
    serve: bool,
) -> int:
    """Start the whole stack (3 Kafka nodes, store, Toxiproxy, API, consumers)."""
    stack_dir = stack_dir.resolve()
    if detach:
        return _up_detached(stack_dir, consumers, apis, partitions, sets, no_system, backend)
    _refuse_if_running(stack_dir)
    cfg = _config(stack_dir, consumers, apis, partitions, sets, no_system)
    if stack_dir.exists() and not serve:
        _clean_stack_dir(stack_dir)
    cluster = make_cluster(backend, cfg)
    control: ControlServer | None = None
    stop = {"flag": False}

    def on_term(signum: int, frame: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    if serve:
        signal.signal(signal.SIGINT, on_term)
    else:
        # "Ctrl-C stops it" must hold even when SIGINT came in ignored (a
        # script's background job inherits SIG_IGN, and Python then never
        # raises KeyboardInterrupt): without this the stack ran on for good.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        t0 = time.monotonic()
        if not serve:
            click.echo(f"starting the stack in {stack_dir} ...")
        cluster.start()
        cluster.write_state()
        if serve:
            # node verbs for 'wiber-harness node' and attach-mode targets (cluster/control.py)
            from wiber_harness.cluster.control import ControlServer

            control = ControlServer(cluster, stack_dir)
            _mark_ready(stack_dir, cluster)
            while not stop["flag"]:
                time.sleep(2)
                if not stop["flag"]:
                    _refresh(cluster, stack_dir)
            return 0
        note = getattr(cluster, "akhq_note", None)  # compose only
        if note:
            click.echo(note)
        click.echo(f"ready in {time.monotonic() - t0:.1f} s; Ctrl-C stops it")
        _live(cluster, stack_dir, stop)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if not serve:
            click.echo("stopping the stack ...")
        if control is not None:
            control.close()
        cluster.close()
        _mark_down(stack_dir)


def _refresh(cluster: Cluster, stack_dir: Path) -> None:
    try:
        st = cluster.state()
        st["supervisor_pid"] = os.getpid()
        st["ready"] = True
        tmp = stack_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(st, indent=2))
        tmp.replace(stack_dir / STATE_FILE)
    except Exception:  # status refresh must never take the stack down
        pass


def _mark_ready(stack_dir: Path, cluster: Cluster) -> None:
    _refresh(cluster, stack_dir)


def _mark_down(stack_dir: Path) -> None:
    f = stack_dir / STATE_FILE
    if f.exists():
        try:
            st = json.loads(f.read_text())
        except ValueError:
            st = {}
        st["ready"] = False
        st["stopped"] = True
        f.write_text(json.dumps(st, indent=2))


def _live(cluster: Cluster, stack_dir: Path, stop: dict[str, bool]) -> None:
    from rich.live import Live
    from rich.table import Table

    def table() -> Table:
        t = Table(title=f"wiber stack ({stack_dir})")
        for col in ("node", "role", "pid", "address", "healthy"):
            t.add_column(col)
        for n in cluster.status():
            t.add_row(
                n.name,
                n.role,
                str(n.pid or "-"),
                n.address,
                "[green]yes[/]" if n.healthy else "[red]no[/]",
            )
        ep = cluster.endpoints()
        t.caption = f"api {ep.api}  kafka {ep.kafka}  store {ep.store}  toxiproxy {ep.toxiproxy}"
        return t

    with Live(table(), refresh_per_second=1) as live:
        while not stop["flag"]:
            time.sleep(2)
            live.update(table())
            _refresh(cluster, stack_dir)


def _read_state(stack_dir: Path) -> dict[str, Any] | None:
    f = stack_dir / STATE_FILE
    if not f.exists():
        return None
    try:
        return dict(json.loads(f.read_text()))
    except ValueError:
        return None


def _supervisor_alive(st: dict[str, Any] | None) -> bool:
    if not st or st.get("stopped"):
        return False
    pid = st.get("supervisor_pid") or st.get("pid")
    if not pid:
        return False
    try:
        p = psutil.Process(int(pid))
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _refuse_if_running(stack_dir: Path) -> None:
    if _supervisor_alive(_read_state(stack_dir)):
        raise ClusterError(
            f"a stack is already running in {stack_dir}; "
            f"run 'wiber-harness down --dir {stack_dir}' first"
        )


def _clean_stack_dir(stack_dir: Path) -> None:
    import shutil

    shutil.rmtree(stack_dir, ignore_errors=True)


def _up_detached(
    stack_dir: Path,
    consumers: int,
    apis: int,
    partitions: int,
    sets: tuple[str, ...],
    no_system: bool,
    backend: str = "local",
) -> int:
    _refuse_if_running(stack_dir)
    if stack_dir.exists():
        _clean_stack_dir(stack_dir)
    stack_dir.mkdir(parents=True, exist_ok=True)
    log = stack_dir / "supervisor.log"
    argv = [
        sys.executable,
        "-m",
        "wiber_harness.cli",
        "up",
        "--serve",
        "--dir",
        str(stack_dir),
        "--consumers",
        str(consumers),
        "--apis",
        str(apis),
        "--partitions",
        str(partitions),
        "--backend",
        backend,
    ]
    for s in sets:
        argv += ["--set", s]
    if no_system:
        argv.append("--no-system")
    t0 = time.monotonic()
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    click.echo(f"starting the stack in {stack_dir} (supervisor pid {proc.pid}) ...", err=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        st = _read_state(stack_dir)
        if st and st.get("ready") and st.get("supervisor_pid") == proc.pid:
            if st.get("akhq"):
                click.echo(st["akhq"], err=True)
            click.echo(
                f"ready in {time.monotonic() - t0:.1f} s; 'wiber-harness status' shows it, "
                f"'wiber-harness down' stops it",
                err=True,
            )
            return 0
        if proc.poll() is not None:
            tail = [
                line.removeprefix("wiber-harness: ")  # the error adds its own prefix
                for line in log.read_text(errors="replace").strip().splitlines()[-3:]
            ]
            raise ClusterError(
                f"the stack did not start: {' '.join(tail) or 'no output'} (see {log})"
            )
        time.sleep(0.5)
    proc.terminate()
    raise ClusterError(f"the stack was not ready within 240 s; see {log} and {stack_dir}/nodes/*/")


@cli.command()
@_dir_option()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: nodes and endpoints.")
def status(stack_dir: Path, as_json: bool) -> int:
    """Show the running stack's nodes and endpoints."""
    st = _read_state(stack_dir.resolve())
    running = _supervisor_alive(st)
    if not running or st is None:
        if as_json:
            click.echo(json.dumps({"running": False, "nodes": [], "endpoints": {}}))
        else:
            click.echo(f"no stack is running in {stack_dir.resolve()}")
        return 1
    out = {
        "running": True,
        "backend": st.get("backend"),
        "nodes": st.get("nodes", []),
        "endpoints": st.get("endpoints", {}),
        "run_dir": st.get("run_dir"),
        "supervisor_pid": st.get("supervisor_pid"),
    }
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return 0
    for n in out["nodes"]:
        click.echo(
            f"{n['name']:<12} {n['role']:<10} pid {n['pid'] or '-':<8} {n['address']:<28} "
            f"{'healthy' if n['healthy'] else 'UNHEALTHY'}"
        )
    for k, v in out["endpoints"].items():
        click.echo(f"{k:<13} {v}")
    return 0


@cli.command()
@_dir_option()
@click.option("--timeout", default=90.0, show_default=True)
def down(stack_dir: Path, timeout: float) -> int:
    """Stop the stack started by 'up --detach'; waits until no process of it is left."""
    stack_dir = stack_dir.resolve()
    st = _read_state(stack_dir)
    if not _supervisor_alive(st) or st is None:
        click.echo(f"no stack is running in {stack_dir}")
        return 0
    pid = int(st.get("supervisor_pid") or st["pid"])
    node_pids = [int(n["pid"]) for n in st.get("nodes", []) if n.get("pid")]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.3)
    else:
        os.kill(pid, signal.SIGKILL)  # the watchdog then kills the nodes
    left = _wait_gone(node_pids, 15)
    if left:
        raise ClusterError(
            f"processes {left} of the stack are still running after 'down'; kill them by hand"
        )
    click.echo(f"stopped ({len(node_pids)} node processes)")
    return 0


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [
            p
            for p in pids
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return []
        time.sleep(0.3)
    return alive
