"""``python -m wiber.consumer``: run one consumer (see ``wiber.consumer``)."""

from wiber.consumer import main

main()
