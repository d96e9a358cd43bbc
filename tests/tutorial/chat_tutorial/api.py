"""Chat API: POST a message (it goes to Kafka), GET a conversation (from MongoDB).

Run it with ``uvicorn chat_tutorial.api:app``; configuration comes from the
environment (``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_TOPIC``, ``MONGO_URI``,
``MONGO_DB``, ``MONGO_COLLECTION``).

* ``POST /messages`` ``{"sender", "receiver", "content"}``: builds the
  message (a new uuid ``messageId``, a millisecond ``timestamp``), produces
  it to Kafka keyed by ``sender:receiver`` and answers it with 200. Other
  body fields are ignored.
* ``GET /messages/{user1}/{user2}?limit=50``: the conversation's messages
  sorted by timestamp, as a JSON list.

Written as the tutorials write it, bugs included: the producer call
(``flush``) blocks inside an ``async def`` endpoint, so while Kafka
acknowledges one message the whole server waits and requests queue up;
a client that gives up waiting does not stop its message from being sent.
"""

import json
import os
import time
import uuid
from typing import Any

from confluent_kafka import Producer
from fastapi import FastAPI
from pydantic import BaseModel
from pymongo import MongoClient

KAFKA_BOOTSTRAP_SERVERS = os.getenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
KAFKA_TOPIC = os.getenv("KAFKA_TOPIC", "chat-messages")
MONGO_URI = os.getenv("MONGO_URI", "mongodb://localhost:27017")
MONGO_DB = os.getenv("MONGO_DB", "chatdb")
MONGO_COLLECTION = os.getenv("MONGO_COLLECTION", "messages")

app = FastAPI(title="Chat API")

producer = Producer({"bootstrap.servers": KAFKA_BOOTSTRAP_SERVERS})

mongo_client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000)
db = mongo_client[MONGO_DB]
messages_collection = db[MONGO_COLLECTION]


class MessageIn(BaseModel):
    sender: str
    receiver: str
    content: str


@app.post("/messages")
async def send_message(message: MessageIn) -> dict[str, Any]:
    msg = {
        "messageId": str(uuid.uuid4()),
        "sender": message.sender,
        "receiver": message.receiver,
        "content": message.content,
        "timestamp": int(time.time() * 1000),
    }
    producer.produce(
        KAFKA_TOPIC,
        key=f"{message.sender}:{message.receiver}",
        value=json.dumps(msg).encode("utf-8"),
    )
    producer.flush()  # make sure the message is sent
    return msg


@app.get("/messages/{user1}/{user2}")
async def get_messages(user1: str, user2: str, limit: int = 50) -> list[dict[str, Any]]:
    query = {
        "$or": [
            {"sender": user1, "receiver": user2},
            {"sender": user2, "receiver": user1},
        ]
    }
    cursor = messages_collection.find(query, {"_id": 0}).sort("timestamp", 1).limit(limit)
    return list(cursor)
