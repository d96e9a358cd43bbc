"""``python -m wiber.api``: serve the API on WIBER_API_HOST:WIBER_API_PORT."""

from wiber.api import main

main()
