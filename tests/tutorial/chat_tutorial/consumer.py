"""Chat consumer: reads messages from Kafka and saves them in MongoDB.

Run it with ``python -m chat_tutorial.consumer``; configuration comes from
the environment (``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_TOPIC``,
``KAFKA_GROUP_ID``, ``MONGO_URI``, ``MONGO_DB``, ``MONGO_COLLECTION``).
Each message is stored as it was produced.

Written as the tutorials write it, bug included: offsets are committed
automatically (Kafka's default) whatever happened to the message, and a
message whose save fails is printed and skipped, so every message consumed
while MongoDB is unreachable is lost.
"""

import json
import os
from typing import Any

from confluent_kafka import Consumer
from pymongo import MongoClient

KAFKA_BOOTSTRAP_SERVERS = os.getenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
KAFKA_TOPIC = os.getenv("KAFKA_TOPIC", "chat-messages")
KAFKA_GROUP_ID = os.getenv("KAFKA_GROUP_ID", "chat-consumer-group")
MONGO_URI = os.getenv("MONGO_URI", "mongodb://localhost:27017")
MONGO_DB = os.getenv("MONGO_DB", "chatdb")
MONGO_COLLECTION = os.getenv("MONGO_COLLECTION", "messages")


def main() -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS,
            "group.id": KAFKA_GROUP_ID,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([KAFKA_TOPIC])

    mongo_client: MongoClient[dict[str, Any]] = MongoClient(
        MONGO_URI, serverSelectionTimeoutMS=5000
    )
    messages_collection = mongo_client[MONGO_DB][MONGO_COLLECTION]

    print("Consumer started, waiting for messages...", flush=True)
    try:
        while True:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}", flush=True)
                continue

            message = json.loads(msg.value() or b"{}")
            try:
                messages_collection.insert_one(message)
            except Exception as e:
                print(f"Failed to save message {message.get('messageId')}: {e}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
