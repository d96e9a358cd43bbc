"""wiber: the Wiber messaging pipeline (REST API -> Kafka -> consumer -> store).

Promises, kept under faults: every acknowledged message is stored
(at-least-once), none is stored twice (dedup by ``messageId``), and each
conversation reads back in the order it was written.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
