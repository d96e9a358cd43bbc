"""Stack commands: ``doctor``, ``up``, ``status``, ``down``.

``up`` runs the stack in the foreground with a live status table; Ctrl-C
tears it down. ``up --detach`` starts a supervisor process in its own
session that owns the stack, and returns when the stack is ready. The
supervisor refreshes ``cluster.json`` in the stack folder every few
seconds; ``status`` reads it; ``down`` asks the supervisor to stop (SIGTERM)
and waits until no process of the stack is left. The supervisor also serves
node verbs (``wiber-harness node``, :mod:`wiber_harness.cluster.control`).

A PID in ``cluster.json`` is never trusted alone: the file records each
process's start time and command line
(:mod:`wiber_harness.cluster.identity`), and ``status``, ``up`` and ``down``
act on a PID only when the live process still matches its record (a stale
file after a reboot, or a file pointing at an unrelated process, is refused
with a sentence). ``doctor --json`` prints one JSON document (see
:mod:`wiber_harness.cli._common`).
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
from wiber_harness.cli._common import (
    backend_option,
    emit_json,
    json_option,
    paint,
    parse_sets,
    say,
    sets_option,
)
from wiber_harness.cluster import identity
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
@json_option
def doctor(fix: bool, as_json: bool) -> int:
    """Say what was found, where, and how to fix what is missing."""
    from wiber_harness.provision import doctor as run_doctor

    lines = run_doctor(fix=fix)
    bad = sum(1 for ln in lines if not ln.ok)
    code = EXIT_UNKNOWN if bad else 0
    if as_json:
        return emit_json(
            "doctor",
            code,
            ok=not bad,
            components=[
                {"component": ln.component, "ok": ln.ok, "where": ln.where, "how": ln.how}
                | ({"fix": ln.fix} if not ln.ok else {})
                for ln in lines
            ],
        )
    for ln in lines:
        mark = paint("ok  ", "green") if ln.ok else paint("MISSING", "red")
        say(f" {ln.component:<10} {ln.where}  ({ln.how})", styled=mark)
        if not ln.ok:
            say(f"        fix: {ln.fix}")
    if bad and not fix:
        say("run 'wiber-harness doctor --fix' to provision what is missing")
    return code


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
            say(f"starting the stack in {stack_dir} ...")
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
            say(note)
        say(f"ready in {time.monotonic() - t0:.1f} s; Ctrl-C stops it")
        _live(cluster, stack_dir, stop)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if not serve:
            say("stopping the stack ...")
        if control is not None:
            control.close()
        cluster.close()
        _mark_down(stack_dir)


def _refresh(cluster: Cluster, stack_dir: Path) -> None:
    try:
        st = cluster.state()
        st["supervisor_pid"] = os.getpid()
        st["supervisor"] = identity.record(os.getpid())  # down signals only this process
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
    try:
        if not f.is_file() or f.stat().st_size > 16 << 20:
            return None
        st = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    return st if isinstance(st, dict) else None


def _supervisor(st: dict[str, Any]) -> tuple[int | None, identity.Verdict]:
    """The stack's supervisor PID from the state file, and whether it is still that process.

    Only a record with the start time and command line of a ``wiber-harness
    up`` process of this user can be ``SAME``: a stale file (the stack
    ended, the machine rebooted), a file written by hand or by an older
    harness never names a process the harness will signal.
    """
    rec = st.get("supervisor") or st.get("process")
    raw_pid = st.get("supervisor_pid") or st.get("pid")
    pid = raw_pid if isinstance(raw_pid, int) and not isinstance(raw_pid, bool) else None
    if not isinstance(rec, dict):
        if pid is None or not 0 < pid < 2**31 or not psutil.pid_exists(pid):
            return pid, identity.Verdict(identity.GONE)
        return pid, identity.Verdict(
            identity.OTHER,
            "the file records no start time and command line for it "
            "(written by an older harness or by hand)",
        )
    if pid is not None and rec.get("pid") != pid:
        return pid, identity.Verdict(identity.OTHER, "the file names two different pids for it")
    pid = rec.get("pid") if pid is None else pid
    v = identity.verify(rec)
    if v.status == identity.SAME and not identity.is_harness_up(rec.get("cmdline")):
        return pid, identity.Verdict(
            identity.OTHER, "the recorded command line is not a 'wiber-harness up'"
        )
    return pid, v


def _supervisor_alive(st: dict[str, Any] | None) -> bool:
    if not st or st.get("stopped"):
        return False
    _, v = _supervisor(st)
    return v.status == identity.SAME


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
    say(f"starting the stack in {stack_dir} (supervisor pid {proc.pid}) ...", err=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        st = _read_state(stack_dir)
        if st and st.get("ready") and st.get("supervisor_pid") == proc.pid:
            if st.get("akhq"):
                say(st["akhq"], err=True)
            say(
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
            say(json.dumps({"running": False, "nodes": [], "endpoints": {}}))
        else:
            say(f"no stack is running in {stack_dir.resolve()}")
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
        say(json.dumps(out, indent=2))
        return 0
    for n in out["nodes"]:
        say(
            f"{n['name']:<12} {n['role']:<10} pid {n['pid'] or '-':<8} {n['address']:<28} "
            f"{'healthy' if n['healthy'] else 'UNHEALTHY'}"
        )
    for k, v in out["endpoints"].items():
        say(f"{k:<13} {v}")
    return 0


@cli.command()
@_dir_option()
@click.option("--timeout", default=90.0, show_default=True)
def down(stack_dir: Path, timeout: float) -> int:
    """Stop the stack started by 'up --detach'; waits until no process of it is left.

    Signals only the supervisor that ``cluster.json`` records, and only after
    checking that the live process with that PID has the recorded start time
    and command line (a ``wiber-harness up`` of this user); otherwise it
    refuses with a sentence and exit 2. Node processes are only waited for,
    and only those that are still the recorded ones.
    """
    stack_dir = stack_dir.resolve()
    st = _read_state(stack_dir)
    state_file = stack_dir / STATE_FILE
    if st is None or st.get("stopped"):
        say(f"no stack is running in {stack_dir}")
        return 0
    pid, v = _supervisor(st)
    if v.status == identity.GONE:
        say(f"no stack is running in {stack_dir} (its supervisor, pid {pid}, has ended)")
        return 0
    if v.status == identity.OTHER or pid is None:
        raise ClusterError(
            f"{state_file}: not signalling pid {pid}: {v.reason}; if a stack of yours still "
            "runs, stop it with Ctrl-C or by hand, then delete this file"
        )
    rec = st.get("supervisor") or st.get("process")
    nodes = [
        n["identity"]
        for n in st.get("nodes", [])
        if isinstance(n, dict) and identity.verify(n.get("identity")).status == identity.SAME
    ]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if identity.verify(rec).status != identity.SAME:
            break
        time.sleep(0.3)
    else:
        if identity.verify(rec).status == identity.SAME:
            os.kill(pid, signal.SIGKILL)  # the watchdog then kills the nodes
    left = _wait_gone(nodes, 15)
    if left:
        raise ClusterError(
            f"processes {left} of the stack are still running after 'down'; kill them by hand"
        )
    say(f"stopped ({len(nodes)} node processes)")
    return 0


def _wait_gone(records: list[dict[str, Any]], timeout: float) -> list[int]:
    """Wait until no recorded process is its recorded self any more; the PIDs still are."""
    deadline = time.monotonic() + timeout
    alive = [int(r["pid"]) for r in records]
    while time.monotonic() < deadline:
        alive = [int(r["pid"]) for r in records if identity.verify(r).status == identity.SAME]
        if not alive:
            return []
        time.sleep(0.3)
    return alive
