"""A deliberately naive second implementation of the messaging pipeline.

It exists to prove that the harness catches a broken pipeline it did not
come with: different routes and field names (driven through
``tests/naive/naive.toml``), and a consumer that commits Kafka offsets
*before* storing and skips a batch whose store write fails. Never use it
for anything else.
"""
