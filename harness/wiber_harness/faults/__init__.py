"""Faults: the kinds a scenario's timeline may name, and the nemesis that carries them out.

* :mod:`wiber_harness.faults.kinds`: the kinds, one family per module; each
  module holds its kinds' catalog entries, validation, inject, heal,
  evidence and what explore draws (adding a kind is adding a module there);
* :mod:`wiber_harness.faults.kind` and :mod:`~wiber_harness.faults.entry`:
  the contract a kind fulfils and its catalog entry's data types;
* :mod:`wiber_harness.faults.registry`: finds the kinds modules;
* :mod:`wiber_harness.faults.catalog`: the public face (``CATALOG``,
  ``check_params``, ``check_target`` ...) that scenario validation uses;
* :mod:`wiber_harness.faults.nemesis`: schedules, injects, heals and records
  faults, through the registry.

``wiber_harness.scenario`` imports the catalog, and the catalog needs the
target types of ``wiber_harness.scenario.targets``; importing the scenario
package here, before any fault module, makes every import order work
(``import wiber_harness.faults.catalog`` or ``wiber_harness.explore`` first
would otherwise meet a half-initialised catalog).
"""

import wiber_harness.scenario  # noqa: F401 (import order, see above)
