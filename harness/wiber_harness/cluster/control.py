"""Node verbs of a running stack, asked of the supervisor that owns it, over a Unix socket.

``wiber-harness up --detach`` leaves a supervisor process that owns every
process of the stack (it started them, it reaps them, ``down`` stops them).
Only it can kill a node and start it again with the same command, data and
watchdog, so it serves node verbs on ``control.sock`` in the stack folder
(:class:`ControlServer`, mode 0600: the user who started the stack) and
:func:`request` asks it. The verbs: ``kill``, ``stop`` (``grace``),
``start``, ``pause``, ``resume``, ``status`` (``running|paused|down
[PID]``), ``controller`` (``LeaderId: N``) and ``describe`` (the stack's
state, its settings and each node's failpoints file and delivery log, for
``wiber-harness target``). This is how a target file for attach mode acts
on a local stack: its templates call ``python -m wiber_harness.cluster.control
VERB {node} --dir STACK`` (or ``wiber-harness node``), never the
processes' ids directly.

Protocol: one JSON request per connection (``{"verb", "node", "grace"}``),
one JSON answer (``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``).
Requests are served one at a time. The client imports only the standard
library, so a ``status`` call costs a Python start-up and nothing more.

``python -m wiber_harness.cluster.control VERB [NODE] --dir STACK``: exit 0
when the verb took effect (``status``, ``controller``, ``describe``: when
answered), 1 when it did not, 2 when the supervisor could not be asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wiber_harness.cluster.base import Cluster

SOCKET = "control.sock"
VERBS = ("kill", "stop", "start", "pause", "resume", "status", "controller", "describe")
NODE_VERBS = VERBS[:6]
MAX_REQUEST = 4096


class ControlServer:
    """Serves node verbs of ``cluster`` on ``stack_dir/control.sock`` in a daemon thread."""

    def __init__(self, cluster: Cluster, stack_dir: Path) -> None:
        self.cluster = cluster
        self.path = stack_dir / SOCKET
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(self.path))
        finally:
            os.umask(old)
        self._sock.listen(8)
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="stack-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(600)
                    req = json.loads(_recv(conn, MAX_REQUEST))
                    with self._lock:
                        answer = self.handle(req)
                except Exception as e:  # one bad request never stops the server
                    answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(answer, default=str).encode() + b"\n")

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        """One request's answer (see the module docstring)."""
        c = self.cluster
        verb = req.get("verb")
        if verb == "controller":
            return {"ok": True, "controller": c.kafka_controller()}
        if verb == "describe":
            st = c.state()
            files = {}
            for n in st.get("nodes", []):
                d = c.run_dir / "nodes" / n["name"]
                files[n["name"]] = {
                    k: str(d / f)
                    for k, f in (("failpoints", "failpoints"), ("delivery_log", "delivery.jsonl"))
                    if n["role"] in ("api", "consumer")
                    and (k == "failpoints" or n["role"] == "consumer")
                }
            settings = dict(getattr(c, "settings", {}))
            return {"ok": True, "state": st, "files": files, "settings": settings}
        name = str(req.get("node"))
        node = c.node(name)
        if verb == "status":
            state = ("running" if node.running() else "paused") if node.alive() else "down"
            return {"ok": True, "state": state, "pid": node.pid}
        if verb == "kill":
            ev = c.kill(name)
        elif verb == "stop":
            ev = c.stop_node(name, float(req.get("grace") or 15.0))
        elif verb == "start":
            ev = c.start_node(name, wait=bool(req.get("wait")))
        elif verb == "pause":
            ev = c.pause(name)
        elif verb == "resume":
            ev = c.resume(name)
        else:
            return {"ok": False, "error": f"unknown verb {verb!r}; verbs are {', '.join(VERBS)}"}
        return {"ok": True, "evidence": ev}

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _recv(conn: socket.socket, limit: int = 16 << 20) -> bytes:
    """One newline-terminated message (at most ``limit`` bytes)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError(f"message over {limit} bytes")
    return data


class ControlError(Exception):
    """The supervisor could not be asked (no stack, or it did not answer)."""


def request(stack_dir: Path, verb: str, node: str | None = None, **extra: Any) -> dict[str, Any]:
    """Ask the stack's supervisor; its answer (ControlError when there is no one to ask)."""
    path = Path(stack_dir).resolve() / SOCKET
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(600)
    try:
        s.connect(str(path))
    except OSError as e:
        s.close()
        raise ControlError(
            f"no stack answers at {path} ({e.strerror or e}); start one with "
            f"'wiber-harness up --detach --dir {stack_dir}'"
        ) from None
    with s:
        s.sendall(json.dumps({"verb": verb, "node": node, **extra}).encode() + b"\n")
        raw = _recv(s)
    try:
        answer: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise ControlError(f"the stack's supervisor gave no answer to {verb}") from None
    return answer


def render(verb: str, answer: dict[str, Any]) -> tuple[str, int]:
    """What a command prints for an answer, and its exit status."""
    if not answer.get("ok"):
        return f"error: {answer.get('error')}", 2
    if verb == "status":
        pid = answer.get("pid")
        return f"{answer['state']}{'' if pid is None else f' {pid}'}", 0
    if verb == "controller":
        return f"LeaderId: {str(answer['controller']).rsplit('-', 1)[-1]}", 0
    if verb == "describe":
        return json.dumps({k: v for k, v in answer.items() if k != "ok"}, indent=2), 0
    ev = answer.get("evidence", {})
    return json.dumps(ev, indent=2, default=str), 0 if ev.get("effective") else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m wiber_harness.cluster.control VERB [NODE] --dir STACK [--grace S] [--wait]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m wiber_harness.cluster.control")
    p.add_argument("verb", choices=VERBS)
    p.add_argument("node", nargs="?")
    p.add_argument("--dir", default=str(Path("reports") / "stack"))
    p.add_argument("--grace", type=float, default=15.0)
    p.add_argument("--wait", action="store_true")
    a = p.parse_args(argv)
    if a.verb in NODE_VERBS and not a.node:
        p.error(f"{a.verb} needs a node name (kafka-1, consumer-2, api-1, store ...)")
    try:
        answer = request(Path(a.dir), a.verb, a.node, grace=a.grace, wait=a.wait)
    except ControlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text, code = render(a.verb, answer)
    print(text, file=sys.stderr if code == 2 else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["SOCKET", "VERBS", "ControlError", "ControlServer", "main", "render", "request"]
