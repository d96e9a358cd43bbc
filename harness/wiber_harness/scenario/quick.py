"""``--quick`` that keeps each fault's meaning: scaled times, but never below the timeout a fault
must outlast.

``--quick`` scales every time of a scenario by one factor (~0.4). Some faults
only mean something when they last longer than a timeout of the system: a
partition between the API and Kafka loses nothing unless it outlasts the
producer's delivery timeout, a paused consumer keeps its partitions unless it
outlasts its session timeout, a store cut fails no write unless it outlasts
the store's server-selection timeout, a paused or killed broker is not
fenced unless it outlasts the brokers' session timeout. A timeline step names
that timeout in ``outlasts``; this module promises:

* :data:`OUTLAST_TIMEOUTS` lists the names a step may give and where each
  value comes from;
* :func:`effective_timeout_s` is the value the system will really run with:
  ``wiber.settings``' default, overridden by the scenario's
  ``topology.settings``, overridden by the run's ``--set`` / ``--wiber-set``
  (the brokers' session timeout is the harness's own broker configuration,
  ``wiber_harness.cluster.commands.BROKER_SESSION_TIMEOUT_MS``);
* :func:`fit_outlasts` lengthens, in scaled scenario data, every such step
  whose duration fell below ``timeout + OUTLAST_MARGIN_S`` to exactly that
  (rounded up to 0.1 s), extends the workload when the longer fault would
  end after it (keeping the scaled time the workload ran after the heal), and
  returns one sentence per change; the scenario keeps them in ``notes`` and
  the run lists them among its reasons;
* :func:`outlast_problems` is the validation of the full-length scenario: a
  step that declares ``outlasts`` must have a heal time, and must last longer
  than the timeout with the scenario's own settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wiber.settings import ENV_PREFIX, Settings
from wiber_harness.cluster.commands import BROKER_SESSION_TIMEOUT_MS

OUTLAST_MARGIN_S = 3.0  # beyond the timeout, so the fault is surely noticed before it heals


@dataclass(frozen=True)
class Timeout:
    """One timeout a fault may have to outlast."""

    setting: str | None  # the WIBER_* setting (milliseconds), or None: a fixed harness value
    fixed_ms: float | None
    what: str


def _default_ms(env_name: str) -> float:
    field = Settings.model_fields[env_name.removeprefix(ENV_PREFIX).lower()]
    return float(field.default)


OUTLAST_TIMEOUTS: Mapping[str, Timeout] = {
    "producer_delivery_timeout": Timeout(
        "WIBER_PRODUCER_DELIVERY_TIMEOUT_MS",
        None,
        "how long the API's producer tries to deliver a record before it gives up",
    ),
    "consumer_session_timeout": Timeout(
        "WIBER_CONSUMER_SESSION_TIMEOUT_MS",
        None,
        "how long a silent consumer keeps its partitions",
    ),
    "store_timeout": Timeout(
        "WIBER_STORE_TIMEOUT_MS",
        None,
        "the store client's server-selection and socket timeout",
    ),
    "broker_session_timeout": Timeout(
        None,
        float(BROKER_SESSION_TIMEOUT_MS),
        "how long a silent broker stays registered (broker.session.timeout.ms)",
    ),
}


class OutlastError(ValueError):
    """A timeout's setting is not a number of milliseconds (the message says which)."""


def _lookup(settings: Mapping[str, str], env_name: str) -> str | None:
    for key, value in settings.items():
        k = key.upper()
        if (k if k.startswith(ENV_PREFIX) else ENV_PREFIX + k) == env_name:
            return str(value)
    return None


def effective_timeout_s(
    name: str, settings: Mapping[str, str], overrides: Mapping[str, str] | None = None
) -> float:
    """The timeout ``name`` in seconds: default < ``settings`` < ``overrides``."""
    t = OUTLAST_TIMEOUTS[name]
    if t.setting is None:
        return float(t.fixed_ms or 0.0) / 1000
    ms = _default_ms(t.setting)
    for layer in (settings, overrides or {}):
        text = _lookup(layer, t.setting)
        if text is not None:
            try:
                ms = float(text)
            except ValueError:
                raise OutlastError(
                    f"{t.setting}={text!r} is not a number of milliseconds; fix the setting"
                ) from None
    return ms / 1000


def _hold(step: Mapping[str, Any]) -> float | None:
    if step.get("for") is not None:
        return float(step["for"])
    if step.get("heal_at") is not None:
        return float(step["heal_at"]) - float(step["at"])
    return None


def outlast_problems(
    steps: Sequence[Mapping[str, Any]], settings: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(field, problem) of every step whose ``outlasts`` cannot hold at full length."""
    out: list[tuple[str, str]] = []
    for i, step in enumerate(steps):
        name = step.get("outlasts")
        if name is None:
            continue
        here = f"timeline[{i}].outlasts"
        hold = _hold(step)
        if hold is None:
            out.append((here, "a fault that outlasts a timeout needs for: N or heal_at; add one"))
            continue
        try:
            need = effective_timeout_s(str(name), settings)
        except OutlastError as e:
            out.append((here, str(e)))
            continue
        if hold <= need:
            out.append(
                (
                    here,
                    f"the fault lasts {hold:g} s, not longer than {name} ({need:g} s); "
                    f"make it last more than {need:g} s",
                )
            )
    return out


def fit_outlasts(
    data: dict[str, Any],
    original: Mapping[str, Any],
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """Lengthen the scaled steps of ``data`` that fell below their timeout; the notes.

    ``original`` is the unscaled scenario data (for the time after each heal).
    """
    settings = data.get("topology", {}).get("settings", {}) or {}
    notes: list[str] = []
    duration = float(data["workload"]["duration"])
    scale = duration / float(original["workload"]["duration"])
    end = duration
    for i, (step, orig) in enumerate(zip(data["timeline"], original["timeline"], strict=True)):
        name = step.get("outlasts")
        hold = _hold(step)
        if name is None or hold is None:
            continue
        timeout = effective_timeout_s(str(name), settings, overrides)
        need = math.ceil((timeout + OUTLAST_MARGIN_S) * 10) / 10
        if hold >= need:
            continue
        if "for" in step:
            step["for"] = need
        else:
            step["heal_at"] = round(float(step["at"]) + need, 1)
        heal = float(step["at"]) + need
        orig_heal = float(orig["at"]) + float(_hold(orig) or 0.0)
        tail = max(1.0, (float(original["workload"]["duration"]) - orig_heal) * scale)
        end = max(end, math.ceil((heal + tail) * 10) / 10)
        notes.append(
            f"--quick: timeline[{i}] ({step.get('id', step.get('fault'))}) lasts {need:g} s, "
            f"not the scaled {hold:g} s, to outlast {name} ({timeout:g} s) by "
            f"{OUTLAST_MARGIN_S:g} s"
        )
    if end > duration:
        data["workload"]["duration"] = end
        notes.append(f"--quick: the workload runs {end:g} s, not {duration:g} s, to fit it")
    return notes


__all__ = [
    "OUTLAST_MARGIN_S",
    "OUTLAST_TIMEOUTS",
    "OutlastError",
    "Timeout",
    "effective_timeout_s",
    "fit_outlasts",
    "outlast_problems",
]
