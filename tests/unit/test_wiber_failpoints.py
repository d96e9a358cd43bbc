"""wiber.failpoints: spec parsing, nth/probability, file reloads, zero cost when off."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wiber import failpoints
from wiber.failpoints import FailpointError, FailpointSpecError, Registry, parse_spec


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    failpoints.configure("")
    yield
    failpoints.configure("")


def test_parse_spec() -> None:
    r = parse_spec(
        "consumer.after_store_before_commit=crash@3; api.after_ack_before_response=hang\n"
        "# comment\nconsumer.before_store=raise%0.25;x=delay:150;y=off"
    )
    assert r["consumer.after_store_before_commit"].action == "crash"
    assert r["consumer.after_store_before_commit"].nth == 3
    assert r["api.after_ack_before_response"].action == "hang"
    assert r["consumer.before_store"].probability == 0.25
    assert r["x"].action == "delay" and r["x"].delay_ms == 150
    assert r["y"].action == "off"


@pytest.mark.parametrize(
    "spec", ["x", "x=", "=crash", "x=explode", "x=crash@0", "x=crash@a", "x=raise%2", "x=delay:z"]
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(FailpointSpecError):
        parse_spec(spec)


def test_off_is_inactive_and_free() -> None:
    assert not failpoints.REGISTRY.active
    failpoints.hit("consumer.before_store")  # no rule: nothing happens
    t0 = time.perf_counter()
    for _ in range(100_000):
        failpoints.hit("consumer.before_store")
    assert time.perf_counter() - t0 < 0.5


def test_raise_on_nth_hit_only() -> None:
    failpoints.configure("p=raise@3")
    failpoints.hit("p")
    failpoints.hit("p")
    with pytest.raises(FailpointError):
        failpoints.hit("p")
    failpoints.hit("p")  # the 4th passes
    assert failpoints.status()["hits"]["p"] == 4


def test_probability() -> None:
    failpoints.configure("p=raise%0")
    for _ in range(100):
        failpoints.hit("p")
    failpoints.configure("p=raise%1")
    with pytest.raises(FailpointError):
        failpoints.hit("p")


def test_delay() -> None:
    failpoints.configure("p=delay:50")
    t0 = time.monotonic()
    failpoints.hit("p")
    assert time.monotonic() - t0 >= 0.045


def test_async_hang_blocks_only_the_task() -> None:
    failpoints.configure("p=hang")

    async def go() -> bool:
        task = asyncio.create_task(failpoints.ahit("p"))
        await asyncio.sleep(0.05)
        hung = not task.done()
        task.cancel()
        return hung

    assert asyncio.run(go())


def test_file_is_reloaded_on_change(tmp_path: Path) -> None:
    f = tmp_path / "fp"
    f.write_text("")
    failpoints.configure("", f)
    assert failpoints.REGISTRY.active
    failpoints.hit("p")
    f.write_text("p=raise")
    os.utime(f, (time.time() + 5, time.time() + 5))  # mtime surely differs
    time.sleep(0.25)
    with pytest.raises(FailpointError):
        failpoints.hit("p")
    f.write_text("p=off")
    os.utime(f, (time.time() + 10, time.time() + 10))
    time.sleep(0.25)
    failpoints.hit("p")


def test_runtime_layer_overrides_env() -> None:
    failpoints.configure("p=raise")
    failpoints.REGISTRY.set_runtime("p=off")
    failpoints.hit("p")
    failpoints.REGISTRY.set_runtime("")
    with pytest.raises(FailpointError):
        failpoints.hit("p")


def test_changed_rule_restarts_its_count() -> None:
    reg = Registry()
    reg.configure("p=raise@2")
    assert reg.decide("p") is None
    reg.set_runtime("p=raise@2;q=crash")  # p unchanged: count kept
    assert reg.decide("p") is not None
    reg.set_runtime("p=crash@2")  # changed: count restarts
    assert reg.decide("p") is None
    assert reg.decide("p") is not None


def test_crash_runs_hooks_then_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    reg = Registry()
    reg.on_crash(lambda: calls.append("flushed"))
    monkeypatch.setattr(os, "_exit", lambda code: calls.append(code))
    reg.crash("p")
    assert calls == ["flushed", 137]
