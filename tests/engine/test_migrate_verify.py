"""A migration's verification: the target must hold every checkpoint moved, line for line,
and no checkpoint of a moved thread that never moved. Here something changes the target between
the import and the verification (as another writer could), and the move must say so; what the
verification does not compare (threads that never moved) may change freely."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_migrate_safety import injecting, talk

from lg_memory import CheckpointError, Settings, backends, migrate, open_checkpointer
from lg_memory import cli as lg_cli

from helpers import Fresh, config, fill


def tampered(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    """`change()` runs once, right before the first verification."""
    verify = migrate._Move._verify
    done: list[bool] = []

    def first(self: Any, *args: Any, **kwargs: Any) -> None:
        if not done:
            done.append(True)
            change()
        verify(self, *args, **kwargs)

    monkeypatch.setattr(migrate._Move, "_verify", first)


def moved(source: Settings, settings: Settings) -> str:
    return migrate.run(source, settings, lg_cli.opened, lg_cli.progress)


def refused(source: Settings, settings: Settings, thread_id: str) -> None:
    with pytest.raises(CheckpointError) as error:
        moved(source, settings)
    message = str(error.value)
    assert f"store differs from what was moved (first at thread {thread_id!r})" in message
    assert migrate.pending(settings.home) is not None  # to resume, or to give up


@pytest.mark.backends("sqlite", "postgres")
def test_a_checkpoint_added_to_a_moved_thread_is_found(
    settings: Settings, fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fresh("sqlite")
    done, _ = fill(source)
    tampered(monkeypatch, lambda: talk(settings, done, "written to the target meanwhile"))
    refused(source, settings, done)


@pytest.mark.backends("sqlite", "postgres")
def test_a_changed_checkpoint_is_found(
    settings: Settings, fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fresh("sqlite")
    _, paused = fill(source)

    def change() -> None:  # the newest checkpoint written again, with other metadata
        with open_checkpointer(settings) as saver:
            latest = saver.get_tuple(config(paused))
            assert latest is not None and latest.parent_config is not None
            saver.put(
                latest.parent_config,
                latest.checkpoint,
                {**latest.metadata, "step": 99},
                {},
            )

    tampered(monkeypatch, change)
    refused(source, settings, paused)


@pytest.mark.backends("sqlite", "postgres")
def test_a_deleted_thread_is_found(
    settings: Settings, fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fresh("sqlite")
    done, _ = fill(source)

    def change() -> None:
        with open_checkpointer(settings) as saver:
            backends.load(settings.type).delete_thread(saver, done)

    tampered(monkeypatch, change)
    refused(source, settings, done)


@pytest.mark.backends("sqlite", "postgres")
def test_threads_that_never_moved_are_not_compared(
    settings: Settings, fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fresh("sqlite")
    fill(source)
    tampered(monkeypatch, lambda: talk(settings, "other", "the application's own thread"))
    assert moved(source, settings).startswith("migrated 2 threads, ")
    assert migrate.pending(settings.home) is None


def ids(settings: Settings, thread_id: str) -> set[str]:
    """The ids of the thread's checkpoints, in every namespace."""
    with open_checkpointer(settings) as saver:
        return {t.checkpoint["id"] for t in backends.load(settings.type).history(saver, thread_id)}


@pytest.mark.backends("sqlite", "postgres")
def test_a_checkpoint_the_source_deleted_during_the_move_stays_moved(
    settings: Settings, fresh: Fresh
) -> None:
    """The target keeps a checkpoint that the backup moved and the source deleted before the
    catch-up pass: it moved, so the verification of that pass allows it."""
    source = fresh("sqlite")
    done, _ = fill(source)
    before = ids(source, done)

    def inject(stage: str) -> None:
        if stage == "import" and before == ids(source, done):  # once
            with open_checkpointer(source) as saver:
                backend = backends.load(source.type)
                backend.delete_checkpoint(saver, next(backend.history(saver, done)))  # newest
            talk(source, done, "and again")

    report = migrate.run(source, settings, lg_cli.opened, injecting(inject))

    assert "carried over in 1 catch-up pass;" in report, report
    after = ids(source, done)
    assert not before <= after  # one is gone from the source
    assert ids(settings, done) == before | after
