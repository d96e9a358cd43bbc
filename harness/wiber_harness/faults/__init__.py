"""Faults: the kinds a scenario's timeline may name, and the nemesis that carries them out.

* :mod:`wiber_harness.faults.catalog`: the registry of fault kinds (data,
  parameters, validation);
* :mod:`wiber_harness.faults.nemesis`: schedules, injects, heals and records faults.
"""
