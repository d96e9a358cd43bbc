"""A slow, simple second implementation of ``docs/verdicts.md`` (the test for the test).

* :mod:`tests.reference.wellformed`: well-formed histories (section 1);
* :mod:`tests.reference.terms`: the terms of section 2;
* :mod:`tests.reference.checker`: delivery (section 3), ordering (section 4)
  and redelivery (section 5), all in plain Python;
* :mod:`tests.reference.generate`: hypothesis strategies for random runs and
  planted anomalies, written through the real file format;
* :mod:`tests.reference.mutate`: shuffles and malformations of a history file.

``tests/unit/test_checkers_differential.py`` requires that the fast checkers
agree with this reference on every verdict and every count.
"""
