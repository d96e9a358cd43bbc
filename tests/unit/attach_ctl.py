"""A stand-in for an operator's control tool, for attach-mode unit tests.

``python attach_ctl.py STATE VERB NODE [ARG]`` keeps each node's state
(``running``, ``paused``, ``down``) in the JSON file STATE and appends
every call to STATE + ``.log``. ``status`` prints the state; ``kill`` and
``stop`` make it down, ``start`` running, ``pause`` paused, ``resume``
running; ``fail`` exits 3; ``sleep`` sleeps ARG seconds. A node named
``stuck`` never changes state (a command that exits 0 but does nothing).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    state_file, verb, node = Path(argv[0]), argv[1], argv[2]
    with open(str(state_file) + ".log", "a") as log:
        log.write(json.dumps(argv[1:]) + "\n")
    states = json.loads(state_file.read_text()) if state_file.exists() else {}
    now = states.get(node, "running")
    if verb == "status":
        print(f"{now} 4242")
        return 0
    if verb == "fail":
        print("it went wrong", file=sys.stderr)
        return 3
    if verb == "sleep":
        time.sleep(float(argv[3]))
        return 0
    new = {"kill": "down", "stop": "down", "start": "running", "pause": "paused"}.get(verb)
    new = new or {"resume": "running"}.get(verb, now)
    if node != "stuck":
        states[node] = new
    state_file.write_text(json.dumps(states))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
