"""A chat backend written the way a typical "REST + Kafka + MongoDB" tutorial writes it.

It is the harness's test of a pipeline it did not come with and that was
not written for it: no idempotency key, no conversation id, no Kafka
position, no write time in the stored documents, and a read that answers
a bare JSON list without paging. ``tests/tutorial/tutorial.toml`` tells the
harness how to drive it; ``tests/scenario/test_tutorial_profile.py`` shows
that a fault-free run is judged valid and that the tutorial's real bug is
found. Its bugs are the tutorial's, on purpose (see :mod:`.api` and
:mod:`.consumer`); never use it for anything else.
"""
