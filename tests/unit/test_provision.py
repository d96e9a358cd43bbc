"""Provisioning: strategies, cache markers and the one-sentence errors (no network)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wiber_harness.errors import ProvisionError
from wiber_harness.provision import base, gobuild, kafka


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WIBER_HARNESS_CACHE", str(tmp_path / "cache"))
    for var in ("KAFKA_HOME", "TOXIPROXY_BIN", "FERRETDB_BIN", "MONGOD_BIN"):
        monkeypatch.delenv(var, raising=False)
    return base.cache_root()


def test_missing_java_names_the_fix(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(ProvisionError) as e:
        kafka.find_java()
    assert "JAVA_HOME=/nonexistent/jdk" in str(e.value) and "install a JDK" in str(e.value)


def test_missing_maven_with_empty_cache_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, cache: Path, tmp_path: Path
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "java").symlink_to(kafka.find_java())
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ProvisionError) as e:
        kafka.find_kafka(install=True)
    msg = str(e.value)
    assert "'mvn' is not on PATH" in msg and "apt-get install -y maven" in msg and "\n" not in msg


def test_missing_go_with_empty_cache_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, cache: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProvisionError) as e:
        gobuild.find_toxiproxy(install=True)
    assert "'go' is not on PATH" in str(e.value) and "TOXIPROXY_BIN" in str(e.value)


def test_not_installed_and_no_install_says_run_doctor_fix(cache: Path) -> None:
    with pytest.raises(ProvisionError) as e:
        kafka.find_kafka(install=False)
    assert "doctor --fix" in str(e.value)


def test_a_corrupt_cache_entry_is_reported_not_used(cache: Path) -> None:
    libs = cache / "kafka-4.4.0" / "libs"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.4.0.jar").write_bytes(b"x" * 10)
    (libs / "log4j-core-2.25.3.jar").write_bytes(b"y" * 10)
    # no marker: an interrupted download
    with pytest.raises(ProvisionError) as e:
        kafka.find_kafka(install=False)
    assert "corrupt" in str(e.value) and "rm -rf" in str(e.value)
    # a marker that does not match what is on disk: a damaged entry
    base.write_marker(cache / "kafka-4.4.0", base.manifest_of(libs, "*.jar"))
    (libs / "log4j-core-2.25.3.jar").write_bytes(b"")
    with pytest.raises(ProvisionError) as e2:
        kafka.find_kafka(install=False)
    assert "corrupt" in str(e2.value) and "changed" in str(e2.value)


def test_a_complete_entry_is_used_from_the_cache(cache: Path) -> None:
    entry = cache / "toxiproxy-2.12.0"
    entry.mkdir()
    binary = entry / "toxiproxy-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    base.write_marker(entry, base.manifest_of(entry))
    found = gobuild.find_toxiproxy(install=False)
    assert found.path == binary and found.strategy == "cache"


def test_env_overrides_win_and_bad_ones_are_named(
    cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOXIPROXY_BIN", str(tmp_path / "nope"))
    with pytest.raises(ProvisionError) as e:
        gobuild.find_toxiproxy()
    assert "TOXIPROXY_BIN" in str(e.value)
    fake_mongod = tmp_path / "mongod"
    fake_mongod.write_text("#!/bin/sh\n")
    fake_mongod.chmod(0o755)
    monkeypatch.setenv("MONGOD_BIN", str(fake_mongod))
    found = gobuild.find_store(install=False)
    assert found.component == "MongoDB" and found.path == fake_mongod


def test_kafka_home_without_jars_is_named(
    cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_HOME", str(tmp_path))
    with pytest.raises(ProvisionError) as e:
        kafka.find_kafka()
    assert "KAFKA_HOME" in str(e.value) and "libs" in str(e.value)
    assert os.environ["KAFKA_HOME"] == str(tmp_path)
