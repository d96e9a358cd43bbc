"""Faults: the kinds a scenario's timeline may name, and the nemesis that carries them out.

* :mod:`wiber_harness.faults.catalog`: the registry of fault kinds (data,
  parameters, validation);
* :mod:`wiber_harness.faults.nemesis`: schedules, injects, heals and records faults.

``wiber_harness.scenario`` imports the catalog, and the catalog needs the
target types of ``wiber_harness.scenario.targets``; importing the scenario
package here, before any fault module, makes every import order work
(``import wiber_harness.faults.catalog`` or ``wiber_harness.explore`` first
would otherwise meet a half-initialised catalog).
"""

import wiber_harness.scenario  # noqa: F401 (import order, see above)
