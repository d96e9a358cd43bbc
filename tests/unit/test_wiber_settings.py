"""wiber.settings: env names, defaults, conflicts and unsafe warnings."""

from __future__ import annotations

import pytest

from wiber.settings import TUNABLE, UNSAFE_VALUES, Settings, SettingsError, load_settings

ENV_NAMES = [
    "WIBER_KAFKA_BOOTSTRAP",
    "WIBER_TOPIC",
    "WIBER_DLQ_TOPIC",
    "WIBER_GROUP",
    "WIBER_STORE_URI",
    "WIBER_STORE_DB",
    "WIBER_STORE_COLLECTION",
    "WIBER_PRODUCER_ACKS",
    "WIBER_PRODUCER_IDEMPOTENCE",
    "WIBER_PRODUCER_LINGER_MS",
    "WIBER_PRODUCER_DELIVERY_TIMEOUT_MS",
    "WIBER_REQUEST_TIMEOUT_S",
    "WIBER_CONSUMER_BATCH_SIZE",
    "WIBER_CONSUMER_BATCH_TIMEOUT_MS",
    "WIBER_CONSUMER_COMMIT_MODE",
    "WIBER_CONSUMER_ON_STORE_ERROR",
    "WIBER_STORE_UNIQUE_INDEX",
    "WIBER_PARTITION_KEY",
    "WIBER_CONSUMER_ID",
    "WIBER_METRICS_PORT",
    "WIBER_DELIVERY_LOG",
    "WIBER_FAILPOINTS",
    "WIBER_FAILPOINTS_FILE",
    "WIBER_LOG_FORMAT",
    "WIBER_MAX_BATCH",
    "WIBER_MAX_CONTENT_BYTES",
    "WIBER_MAX_USER_LEN",
    "WIBER_API_HOST",
    "WIBER_API_PORT",
    "WIBER_DEBUG_ENDPOINTS",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("WIBER_"):
            monkeypatch.delenv(k)


def test_every_documented_env_name_is_a_field() -> None:
    fields = {"WIBER_" + n.upper() for n in Settings.model_fields}
    assert set(ENV_NAMES) <= fields
    for name, f in Settings.model_fields.items():
        assert f.description or name == "log_level", f"{name} has no description"


def test_defaults_are_safe() -> None:
    s = load_settings()
    assert s.topic == "wiber.messages"
    assert s.dlq_topic == "wiber.messages.dlq"
    assert s.group == "wiber-consumers"
    assert (s.store_db, s.store_collection) == ("wiber", "messages")
    assert s.producer_acks == "all" and s.producer_idempotence
    assert s.consumer_commit_mode == "after_store"
    assert s.consumer_on_store_error == "retry"
    assert s.store_unique_index and s.partition_key == "conversation"
    assert s.delivery_log is None
    assert s.producer_delivery_timeout_ms < s.request_timeout_s * 1000
    assert s.unsafe_warnings() == []


def test_env_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIBER_KAFKA_BOOTSTRAP", "h:1,h:2")
    monkeypatch.setenv("WIBER_CONSUMER_BATCH_SIZE", "42")
    monkeypatch.setenv("WIBER_DELIVERY_LOG", "/tmp/x.jsonl")
    monkeypatch.setenv("WIBER_LOG_FORMAT", "json")
    s = load_settings()
    assert s.kafka_bootstrap == "h:1,h:2"
    assert s.consumer_batch_size == 42
    assert str(s.delivery_log) == "/tmp/x.jsonl"
    assert s.log_format == "json"


def test_acks_one_with_idempotence_fails_with_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIBER_PRODUCER_ACKS", "1")
    with pytest.raises(SettingsError) as e:
        load_settings()
    msg = str(e.value)
    assert "WIBER_PRODUCER_ACKS=1" in msg and "WIBER_PRODUCER_IDEMPOTENCE=false" in msg
    assert "\n" not in msg


def test_acks_one_without_idempotence_is_unsafe_but_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WIBER_PRODUCER_ACKS", "1")
    monkeypatch.setenv("WIBER_PRODUCER_IDEMPOTENCE", "false")
    s = load_settings()
    w = s.unsafe_warnings()
    assert any(x.startswith("UNSAFE setting WIBER_PRODUCER_ACKS=1") for x in w)
    assert any("WIBER_PRODUCER_IDEMPOTENCE=false" in x for x in w)


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("WIBER_CONSUMER_COMMIT_MODE", "auto", "WIBER_CONSUMER_COMMIT_MODE=auto"),
        ("WIBER_CONSUMER_ON_STORE_ERROR", "skip", "WIBER_CONSUMER_ON_STORE_ERROR=skip"),
        ("WIBER_STORE_UNIQUE_INDEX", "false", "WIBER_STORE_UNIQUE_INDEX=false"),
        ("WIBER_PARTITION_KEY", "direction", "WIBER_PARTITION_KEY=direction"),
    ],
)
def test_each_unsafe_value_warns(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(env, value)
    w = load_settings().unsafe_warnings()
    assert len(w) == 1 and w[0].startswith("UNSAFE setting ") and needle in w[0]


def test_unsafe_values_are_exactly_the_ones_that_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    # UNSAFE_VALUES is the data the harness reads; unsafe_warnings() the code that logs
    assert set(UNSAFE_VALUES) <= set(TUNABLE) <= set(Settings.model_fields)
    for field, values in UNSAFE_VALUES.items():
        for value in values:
            env = "WIBER_" + field.upper()
            monkeypatch.setenv(env, value)
            if field == "producer_acks":
                monkeypatch.setenv("WIBER_PRODUCER_IDEMPOTENCE", "false")
            w = load_settings().unsafe_warnings()
            assert any(x.startswith(f"UNSAFE setting {env}={value}:") for x in w), (env, value)
    # with every unsafe value set at once there is one warning per field, none more
    assert len(load_settings().unsafe_warnings()) == len(UNSAFE_VALUES)


def test_delivery_timeout_must_be_below_request_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIBER_REQUEST_TIMEOUT_S", "5")
    monkeypatch.setenv("WIBER_PRODUCER_DELIVERY_TIMEOUT_MS", "5000")
    with pytest.raises(SettingsError, match="WIBER_PRODUCER_DELIVERY_TIMEOUT_MS=5000"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("WIBER_PRODUCER_ACKS", "2"),
        ("WIBER_CONSUMER_COMMIT_MODE", "sometimes"),
        ("WIBER_CONSUMER_BATCH_SIZE", "zero"),
        ("WIBER_LOG_FORMAT", "xml"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert f"{env}={value}" in str(e.value)
