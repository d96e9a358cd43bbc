"""Scenario files: the schema, loading and complete validation.

A scenario is one YAML file. Everything is validated before anything
starts; every problem becomes one sentence ``FILE: FIELD: what is wrong;
how to fix it`` and all of a file's problems are raised together as one
:class:`~wiber_harness.errors.InvalidScenario` (one sentence per line).

Schema (``*`` = required; unknown keys are errors, with a "did you mean")::

    name*: leader-kill           # [a-z0-9][a-z0-9-]*
    description*: one line saying what the scenario shows
    topology:
      brokers: 3                 # only 3 is supported
      partitions: 6              # 1..64
      consumers: 2               # 1..16
      apis: 1                    # 1..8
      settings: {}               # system settings -> scalar; keys are WIBER_* env
                                 # names or lower-case names (producer_acks);
                                 # known names: SYSTEM_SETTINGS
    workload:
      rate*: 200                 # messages per second, > 0
      duration*: 40              # seconds, > 0
      conversations: 50
      payload_size: 64           # bytes of message content
      concurrency: 256           # max requests in flight
      seed: 1                    # 0..2**32-1; the CLI's --seed overrides it
      batch: 0                   # 0: POST /messages; N: POST /messages/batch of N
    timeline:                    # faults, in any order
      - at*: 10                  # seconds since the workload started, < duration
        fault*: kill             # a kind of wiber_harness.faults.catalog
        target: kafka.leader(partition=0)   # grammar: wiber_harness.scenario.targets;
                                 # optional for duplicate_*, offset_rewind, rolling_restart
        for: 10                  # heal N s after inject, or
        heal_at: 20              # heal at this time; neither: heal in the end phase
        params: {}               # per kind, checked against the catalog (defaults filled in)
        id: kill-leader          # optional; default "<index>-<fault>" (history's `fault`)
        outlasts: broker_session_timeout  # optional: the system timeout the fault must
                                 # last longer than (producer_delivery_timeout,
                                 # consumer_session_timeout, store_timeout,
                                 # broker_session_timeout); needs for/heal_at longer
                                 # than it; --quick keeps it above (scenario.quick)
    expect:
      valid: [delivery, ordering, convergence]  # checkers that must say valid
      thresholds: {recovery_s: "<= 60"}         # metric -> "<=|<|>=|>|== number"
      violation: false           # unsafe-config scenarios: true = some checker must
                                 # report a violation; [delivery] = each listed
                                 # checker must; then `valid` defaults to []
                                 # (Expect.judge applies all of this)
    notes: [...]                 # written by the harness, not by hand: what --quick
                                 # changed (listed among the run's reasons)

Cross-field rules: a fault heals inside the workload (``at + for`` or
``heal_at`` <= duration), ``heal_at`` > ``at``, instantaneous kinds (restart,
rolling_restart, duplicate_*, offset_rewind) take no ``for``/``heal_at``,
targets fit the fault's category and exist in the topology (``consumer.3``
with 2 consumers is an error), leader partitions exist, fault ids are unique,
a checker is not both expected valid and expected to flag a violation.

Derived scenarios are validated again: :meth:`Scenario.with_overrides`
(``--seed``, ``--rate``, ``--duration``) and :meth:`Scenario.quick`
(``--quick``: every time scaled by one factor, ~0.4, never below 15 s, so
faults stay inside and keep their order and overlaps; a step that
``outlasts`` a timeout stays longer than the system's effective value, see
:mod:`~wiber_harness.scenario.quick`). :meth:`Scenario.to_dict`
/ :meth:`Scenario.to_yaml` give the resolved scenario (defaults filled in)
for the run folder; loading it again yields an equal scenario.

Modules (this package re-exports their public names):

* :mod:`~wiber_harness.scenario.vocab`: the words a scenario may use
  (:data:`SYSTEM_SETTINGS`, :data:`CHECKERS`, :data:`METRICS`, fault
  kinds), each imported from the code that defines it;
* :mod:`~wiber_harness.scenario.schema`: the pydantic models and the
  derived scenarios; :mod:`~wiber_harness.scenario.fields` their field types;
* :mod:`~wiber_harness.scenario.quick`: the timeouts a fault may have to
  outlast and how ``--quick`` keeps it longer;
* :mod:`~wiber_harness.scenario.expect`: thresholds and the judgement of a
  run against ``expect`` (:meth:`Expect.judge`);
* :mod:`~wiber_harness.scenario.messages`: validation problems as sentences;
* :mod:`~wiber_harness.scenario.loader`: YAML files in, scenarios out,
  read through :mod:`~wiber_harness.scenario.reading` (a hostile file is
  refused with a sentence before it is built: size, encoding, control
  characters, nesting, alias expansion);
* :mod:`~wiber_harness.scenario.targets`: the target grammar;
  :mod:`~wiber_harness.scenario.profile`: the other input, system profiles.

The names are imported on first use: ``faults.catalog`` imports
``scenario.targets`` and the schema imports ``faults.catalog``, so the
package itself must load without the schema for either to come first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wiber_harness.scenario.expect import Threshold, parse_threshold
    from wiber_harness.scenario.loader import (
        list_scenarios,
        load_scenario,
        load_scenarios,
        parse_scenario,
    )
    from wiber_harness.scenario.schema import (
        QUICK_FACTOR,
        QUICK_MIN_DURATION,
        Expect,
        FaultStep,
        Scenario,
        Topology,
        Workload,
    )
    from wiber_harness.scenario.vocab import (
        CHECKERS,
        DEFAULT_VALID,
        METRICS,
        SYSTEM_SETTINGS,
        SettingSpec,
    )

# exported name -> (module below this package, name there)
_HOMES: dict[str, tuple[str, str]] = {
    "CHECKERS": ("vocab", "CHECKERS"),
    "DEFAULT_VALID": ("vocab", "DEFAULT_VALID"),
    "METRICS": ("vocab", "METRICS"),
    "SYSTEM_SETTINGS": ("vocab", "SYSTEM_SETTINGS"),
    "SettingSpec": ("vocab", "SettingSpec"),
    "QUICK_FACTOR": ("schema", "QUICK_FACTOR"),
    "QUICK_MIN_DURATION": ("schema", "QUICK_MIN_DURATION"),
    "Expect": ("schema", "Expect"),
    "FaultStep": ("schema", "FaultStep"),
    "Scenario": ("schema", "Scenario"),
    "Topology": ("schema", "Topology"),
    "Workload": ("schema", "Workload"),
    "_validate": ("schema", "validate"),  # its name before the split
    "Threshold": ("expect", "Threshold"),
    "parse_threshold": ("expect", "parse_threshold"),
    "list_scenarios": ("loader", "list_scenarios"),
    "load_scenario": ("loader", "load_scenario"),
    "load_scenarios": ("loader", "load_scenarios"),
    "parse_scenario": ("loader", "parse_scenario"),
}


def __getattr__(name: str) -> object:
    """A re-exported name, imported from its module on first use (see above)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(f"{__name__}.{home[0]}"), home[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "CHECKERS",
    "DEFAULT_VALID",
    "METRICS",
    "QUICK_FACTOR",
    "QUICK_MIN_DURATION",
    "SYSTEM_SETTINGS",
    "Expect",
    "FaultStep",
    "Scenario",
    "SettingSpec",
    "Threshold",
    "Topology",
    "Workload",
    "list_scenarios",
    "load_scenario",
    "load_scenarios",
    "parse_scenario",
    "parse_threshold",
]
