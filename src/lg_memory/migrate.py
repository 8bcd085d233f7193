"""Moving every checkpoint from one backend (or namespace) to another, verified, resumable.

1. A marker (`.lg-memory/pending-migration.json`) records the move before anything else, so
   that `lg-memory` reminds the user until it is done, and `migrate --resume` can finish it.
2. The source is exported to `lg-memory-backups/<type>-<namespace>-<time>.jsonl`.
3. The backup is imported into the target: the import verifies the whole file (format, order,
   count, checksum) before it writes anything (storage initialised on open; imports are
   idempotent, so a resumed move creates no duplicates), then the target is exported again
   and compared with the backup line by line: same ids, parents, metadata and values.
4. The marker is removed. The source store is never written to.

Values move as the source stored them: where both backends can (SQLite and PostgreSQL), as
bytes, without being decoded. Unlike `lg-memory import` of a file from elsewhere, no type is
refused: the values are this project's own, and the application reads them as before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from . import backends, store, transfer
from .backends import Backend
from .settings import CheckpointError, Settings, load_settings

MARKER = Path(".lg-memory") / "pending-migration.json"  # in the project (or working) directory
BACKUPS = Path("lg-memory-backups")

Opener = Callable[[Settings], AbstractContextManager[tuple[Backend, store.Saver]]]
Progress = Callable[[str], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class Plan:
    from_type: str
    from_namespace: str
    to_type: str
    to_namespace: str
    backup: str | None = None  # set once the backup is written and verified
    # A custom source's saver when the project no longer holds it (kept by a switch).
    from_custom_saver: str | None = None

    def describe(self) -> str:
        return (
            f"{self.from_type} (namespace {self.from_namespace}) -> "
            f"{self.to_type} (namespace {self.to_namespace})"
        )


def pending(home: Path) -> Plan | None:
    try:
        return Plan(**json.loads((home / MARKER).read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        raise CheckpointError(f"corrupted data: {MARKER} is not a migration plan") from None


def reminder(home: Path) -> str | None:
    plan = pending(home)
    if plan is None:
        return None
    return (
        f"lg-memory: a migration {plan.describe()} is not finished: "
        "run `lg-memory migrate --resume` (nothing is lost: the old store is untouched)"
    )


def _save(home: Path, plan: Plan) -> None:
    marker = home / MARKER
    marker.parent.mkdir(exist_ok=True)
    (marker.parent / ".gitignore").write_text("*\n")
    marker.write_text(json.dumps(plan.__dict__, indent=2) + "\n")


def export_to(
    backend: Backend,
    saver: store.Saver,
    settings: Settings,
    out: TextIO | BinaryIO,
    thread_id: str | None,
    progress: Callable[[int], None] | None = None,
) -> transfer.Summary:
    return transfer.export_records(
        backend.records(saver, thread_id),
        out,
        source={"type": settings.type, "namespace": settings.namespace},
        thread_id=thread_id,
        progress=progress,
    )


def run(
    source: Settings,
    target: Settings,
    opened: Opener,
    progress: Progress,
    *,
    resume: bool = False,
) -> str:
    """Move everything from `source` to `target`; returns the report line."""
    started = time.perf_counter()
    home = target.home
    plan = pending(home) if resume else None
    if resume and plan is None:
        raise CheckpointError("no migration to resume")
    if plan is None:
        require_store(source)
        plan = Plan(source.type, source.namespace, target.type, target.namespace)
        _save(home, plan)
    if plan.backup is None or not (home / plan.backup).is_file():
        backup = _backup(home, source, opened, progress)
        plan = Plan(**{**plan.__dict__, "backup": str(backup.relative_to(home))})
        _save(home, plan)
    backup = home / (plan.backup or "")
    with opened(target) as (backend, saver):
        loader = backend.loader(saver)
        with progress("import") as tick:
            # The import verifies the whole backup (format, count, checksum) before writing.
            imported = transfer.import_checkpoints(
                saver, backup, progress=tick, trusted=True, loader=loader
            )
        with progress("verify") as tick:
            _verify(backend, saver, target, backup, tick)
    (home / MARKER).unlink(missing_ok=True)
    return (
        f"migrated {imported.threads} threads, {imported.checkpoints} checkpoints and "
        f"{imported.writes} pending writes {plan.describe()} in "
        f"{time.perf_counter() - started:.1f} s, verified; backup: {backup}. "
        f"The {plan.from_type} store is left as it was: `lg-memory clear` it when satisfied."
    )


def require_store(settings: Settings) -> None:
    """A clear error, and no empty store created, when the store to read is not there."""
    if not backends.load(settings.type).exists(settings):
        raise CheckpointError(
            f"checkpoint not found: no {settings.label} store at {settings.redacted} "
            f"(namespace {settings.namespace}); check --connection-string and --namespace"
        )


def _backup(home: Path, source: Settings, opened: Opener, progress: Progress) -> Path:
    backups = home / BACKUPS
    backups.mkdir(exist_ok=True)
    (backups / ".gitignore").write_text("*\n")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = backups / f"{source.type}-{source.namespace}-{stamp}.jsonl"
    partial = path.with_name(path.name + ".partial")
    try:
        with (
            opened(source) as (backend, saver),
            open(partial, "wb") as out,
            progress("backup") as tick,
        ):
            export_to(backend, saver, source, out, None, tick)
        partial.replace(path)  # verified (count, checksum) by the import, before it writes
    finally:
        partial.unlink(missing_ok=True)
    return path


def _verify(
    backend: Backend,
    saver: store.Saver,
    target: Settings,
    backup: Path,
    progress: Callable[[int], None],
) -> None:
    """The target holds, for every thread of the backup, exactly the backup's checkpoints.

    Both are in export order: the target's export is walked beside the backup's lines,
    skipping the checkpoints of threads the backup does not hold.
    """
    theirs: set[str] | None = None  # the backup's threads, read only if the target has others
    with closing(backend.records(saver, None)) as found, backup.open("rb") as before:
        for n, expected in enumerate(_body(before), 1):
            while True:
                rec = next(found, None)
                if rec is not None and transfer.dumps(rec) == expected:
                    break
                if theirs is None:
                    theirs = _threads(backup)
                if rec is None or rec["thread_id"] in theirs:
                    _differs(target, rec or json.loads(expected))
            progress(n)
        for rec in found:  # what is left may only be other threads
            if theirs is None:
                theirs = _threads(backup)
            if rec["thread_id"] in theirs:
                _differs(target, rec)


def _threads(backup: Path) -> set[str]:
    with backup.open("rb") as f:
        return {json.loads(line)["thread_id"] for line in _body(f)}


def _differs(target: Settings, rec: transfer.Json) -> None:
    raise CheckpointError(
        f"migration error: the {target.label} store differs from the backup "
        f"(first at thread {rec.get('thread_id', '?')!r}); "
        "run `lg-memory migrate --resume` to retry"
    )


def _body(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The checkpoint lines of an export: without its header and its trailer."""
    previous: bytes | None = None
    for n, line in enumerate(lines):
        if n > 1 and previous is not None:
            yield previous
        previous = line.rstrip(b"\r\n")


def settings_pair(args: Any, current: Settings) -> tuple[Settings, Settings]:
    """Source and target from the flags (`--resume`: from the pending plan)."""
    plan = pending(current.home) if args.resume else None
    if args.resume and plan is None:
        raise CheckpointError("no migration to resume: nothing is pending")
    from_type = plan.from_type if plan else args.from_type
    if not from_type:
        raise CheckpointError("migrate needs --from-type (or --resume)")
    source = load_settings(
        from_type,
        args.from_connection_string,
        (plan.from_namespace if plan else None) or args.from_namespace or current.namespace,
        project=current.project,
    )
    target = load_settings(
        plan.to_type if plan else (args.to_type or current.type),
        args.connection_string,
        (plan.to_namespace if plan else None) or args.namespace or current.namespace,
        project=current.project,
    )
    same = (source.type, source.connection_string, source.namespace) == (
        target.type, target.connection_string, target.namespace,
    )  # fmt: skip
    if same:
        raise CheckpointError("--from-type and --to-type name the same store")
    for settings in (source, target):
        backends.load(settings.type)  # a clear error now if its packages are missing
    if plan is not None and plan.from_custom_saver:
        source = replace(source, custom_saver=plan.from_custom_saver)
    return source, target
