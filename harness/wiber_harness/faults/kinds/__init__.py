"""The fault kinds, one family per module; every module here defines ``KINDS``.

:mod:`wiber_harness.faults.registry` imports every module of this package
(names starting with ``_`` excepted) and collects its ``KINDS`` (a tuple of
:class:`~wiber_harness.faults.kind.Kind`). Adding a kind is adding a module
here (and its tests); see ``docs/adding-a-fault-kind.md``.
"""
