"""``python -m wiber_harness.cli``: the same as the ``wiber-harness`` command."""

from wiber_harness.cli import main

main()
