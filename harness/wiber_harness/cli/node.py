"""Commands on a running stack's nodes: ``node`` (one verb) and ``target`` (a target file for it).

``wiber-harness node VERB NAME`` asks the supervisor of a stack started
with ``up --detach`` to kill, stop, start, pause or resume one node, or
says its status (``running|paused|down [PID]``); ``node controller`` names
the active KRaft controller (``LeaderId: N``). The supervisor owns the
processes (:mod:`wiber_harness.cluster.control`), so a killed node starts
again with its data intact and ``down`` still stops everything.

``wiber-harness target`` writes a target file (attach mode,
:mod:`wiber_harness.cluster.deployment`) for such a stack: its addresses
from the supervisor's state, Toxiproxy's proxies under their own names,
each node's failpoints file and delivery log, and templates that call
``python -m wiber_harness.cluster.control VERB {node} --dir STACK``. Then
``wiber-harness run SCENARIO --backend attach --target FILE`` drives that
stack as a deployment the harness did not start.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from wiber_harness.cli import cli
from wiber_harness.cluster.control import VERBS, ControlError, render, request
from wiber_harness.errors import ClusterError

DEFAULT_STACK_DIR = Path("reports") / "stack"


@cli.command("node")
@click.argument("verb", type=click.Choice(list(VERBS[:-1])))
@click.argument("name", required=False)
@click.option(
    "--dir",
    "stack_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_STACK_DIR,
    show_default=True,
)
@click.option("--grace", type=float, default=15.0, show_default=True, help="stop: SIGKILL after.")
@click.option("--wait", is_flag=True, help="start: return once the node is ready.")
def node_cmd(verb: str, name: str | None, stack_dir: Path, grace: float, wait: bool) -> int:
    """Act on one node of the stack 'up --detach' started (kill, stop, start, pause, resume)."""
    if verb != "controller" and not name:
        raise click.UsageError(f"node {verb} needs a node name (kafka-1, consumer-2, api-1, store)")
    try:
        answer = request(stack_dir, verb, name, grace=grace, wait=wait)
    except ControlError as e:
        raise ClusterError(str(e)) from None
    text, code = render(verb, answer)
    click.echo(text, err=code == 2)
    return code


def _q(v: object) -> str:
    return json.dumps(str(v))


def target_toml(described: dict[str, Any], stack_dir: Path, python: str = sys.executable) -> str:
    """A target file for the stack ``described`` (the supervisor's ``describe`` answer)."""
    st = described["state"]
    ep = st["endpoints"]
    files = described.get("files", {})
    ctl = [python, "-m", "wiber_harness.cluster.control"]

    def cmd(*words: str) -> str:
        return "[" + ", ".join(_q(w) for w in [*ctl, *words, "--dir", str(stack_dir)]) + "]"

    lines = [
        f"# Target file for the stack in {stack_dir} (wiber-harness up --detach),",
        "# written by 'wiber-harness target'. Every command asks the stack's supervisor.",
        'name = "local-stack"',
        "",
        "[api]",
        f"urls = [{', '.join(_q(u) for u in ep['apis'])}]",
        "",
        "[kafka]",
        f"bootstrap = {_q(ep['kafka_direct'])}",
        f"pipeline_bootstrap = {_q(ep['kafka'])}",
        f"controller = {cmd('controller')}",
        "",
        "[store]",
        f"uri = {_q(ep['store'])}",
    ]
    if described.get("settings"):
        lines += ["", "[settings]"]
        lines += [f"{k} = {_q(v)}" for k, v in sorted(described["settings"].items())]
    links = st.get("links", [])
    if links and ep.get("toxiproxy"):
        lines += ["", "[toxiproxy]", f"url = {_q(ep['toxiproxy'])}", "", "[toxiproxy.links]"]
        lines += [f"{ln} = {_q(ln)}" for ln in links]
    lines += [
        "",
        "[commands]",
        f"kill = {cmd('kill', '{node}')}",
        f"stop = {cmd('stop', '{node}', '--grace', '{grace}')}",
        f"start = {cmd('start', '{node}')}",
        f"pause = {cmd('pause', '{node}')}",
        f"resume = {cmd('resume', '{node}')}",
        f"status = {cmd('status', '{node}')}",
        "timeout_s = 120",
    ]
    for n in st.get("nodes", []):
        name, role = n["name"], n["role"]
        if role not in ("kafka", "consumer", "api"):
            continue
        body = []
        if role == "kafka":
            body.append(f"address = {_q(n['address'])}")
        if role == "consumer" and n.get("address"):
            body.append(f"health = {_q('tcp://' + n['address'])}")
        f = files.get(name, {})
        if f.get("failpoints"):
            body.append(f"failpoints = {{ file = {_q(f['failpoints'])} }}")
        if f.get("delivery_log"):
            body.append(f"delivery_log = {_q(f['delivery_log'])}")
        if body or role != "api":
            lines += ["", f"[nodes.{name}]", *body]
    return "\n".join(lines) + "\n"


@cli.command("target")
@click.option(
    "--dir",
    "stack_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_STACK_DIR,
    show_default=True,
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Write here (default stdout)."
)
def target_cmd(stack_dir: Path, out: Path | None) -> int:
    """Write a target file (attach mode) for the stack 'up --detach' started."""
    stack_dir = stack_dir.resolve()
    try:
        answer = request(stack_dir, "describe")
    except ControlError as e:
        raise ClusterError(str(e)) from None
    if not answer.get("ok"):
        raise ClusterError(f"the stack's supervisor could not describe it: {answer.get('error')}")
    text = target_toml(answer, stack_dir)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}", err=True)
    return 0


__all__ = ["node_cmd", "target_cmd", "target_toml"]
