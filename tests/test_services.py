"""services.py's servers speak their real protocols: LangGraph's own savers round-trip on each."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymongo
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.mongodb import MongoDBSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.redis import RedisSaver
from psycopg.rows import dict_row

import services

CONFIG: RunnableConfig = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}


def _serve(
    start: Callable[[Path], services.Server], factory: pytest.TempPathFactory
) -> Iterator[str]:
    server = start(factory.mktemp(start.__name__))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(services.start_postgres, tmp_path_factory)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(services.start_redis, tmp_path_factory)


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(services.start_mongodb, tmp_path_factory)


def _round_trip(saver: BaseCheckpointSaver[Any]) -> None:
    checkpoint = empty_checkpoint()
    saved = saver.put(CONFIG, checkpoint, {"source": "input", "step": -1}, {})
    assert saved["configurable"]["checkpoint_id"] == checkpoint["id"]
    for config in (saved, CONFIG):  # that very checkpoint, and the thread's latest
        got = saver.get(config)
        assert got is not None
        assert got["id"] == checkpoint["id"]


def test_postgres(postgres_url: str) -> None:
    with psycopg.connect(
        postgres_url, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        saver = PostgresSaver(conn)
        saver.setup()
        _round_trip(saver)


@pytest.mark.skipif("LG_MEMORY_TEST_POSTGRES_URL" in os.environ, reason="not our server")
def test_postgres_checks_the_password(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://lg_memory:lg_memory_pw@127.0.0.1:")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_url.replace(":lg_memory_pw@", ":wrong@")).close()


def test_redis(redis_url: str) -> None:
    saver = RedisSaver(redis_url=redis_url)
    saver.setup()
    _round_trip(saver)


def test_mongodb(mongodb_url: str) -> None:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_url)
    try:
        _round_trip(MongoDBSaver(client, db_name="t"))
    finally:
        client.close()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, start in services.STARTERS.items():
        url = f"{name}://example.invalid:1"
        monkeypatch.setenv(f"LG_MEMORY_TEST_{name.upper()}_URL", url)
        server = start(tmp_path)
        assert (server.url, server.process) == (url, None)
        server.stop()


@pytest.mark.skipif("LG_MEMORY_TEST_MONGODB_URL" in os.environ, reason="not our server")
def test_up_prints_urls_and_stops_on_sigterm() -> None:
    script = Path(services.__file__)
    with subprocess.Popen(
        [sys.executable, script, "up", "mongodb"], stdout=subprocess.PIPE, text=True
    ) as up:
        assert up.stdout is not None
        line = up.stdout.readline()
        assert line.startswith("export MONGODB_URL=mongodb://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        up.send_signal(signal.SIGTERM)
        assert up.wait(30) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
