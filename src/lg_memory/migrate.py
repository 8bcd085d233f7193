"""Moving every checkpoint from one backend (or namespace) to another, verified, resumable, or
given up.

1. A marker (`.lg-memory/pending-migration.json`) records the move before anything else, so
   that `lg-memory` reminds the user until it is done, and `migrate --resume` can finish it
   (or `migrate --abort` give it up, switching a project's files back).
2. The source is exported to `lg-memory-backups/<type>-<namespace>-<time>.jsonl`. Into a
   target with a bulk loader (SQLite, PostgreSQL) that holds none of the source's threads, the
   backup is imported as it is written, in one transaction that commits only once the file is
   complete (then step 3 has nothing to find, and step 4's import is that transaction).
3. Threads that the target holds already, with checkpoints the backup does not have (the
   application wrote them there while the move was pending), are found before anything is
   written: the move stops, naming them, until the user keeps the target's copies
   (`--keep-target`) or replaces them (`--replace`, which saves them to a file first).
4. The backup is imported into the target: the import verifies the whole file (format, order,
   count, checksum) before it writes anything (storage initialised on open; imports are
   idempotent, so a resumed move creates no duplicates); then, thread by thread, the target
   must hold every checkpoint moved, the same line for line (ids, parents, metadata, values),
   and no other.
5. Catch-up passes: the source's threads (count and newest checkpoint, and pending writes where
   the backend counts them) are compared with what moved; the threads written to meanwhile
   are exported again, imported and verified, until a pass finds no change. After
   `CATCH_UP_PASSES` passes with writes still arriving, the move stops and asks for the writers
   to be stopped (the work done so far is kept).
6. The marker is removed. The source store is never written to.

Values move as the source stored them, without being decoded, into every backend that stores
LangGraph's serialised form (see `transfer.verbatim`). Where a backend keeps another form
(Redis keeps channel values as JSON), values are decoded as the application decodes them, and
the move is refused before it writes anything if one would not come back as it was: such a move
can never finish, and the way back is `migrate --abort`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from . import backends, store, transfer
from .backends import Backend
from .settings import CheckpointError, Settings, load_settings

MARKER = Path(".lg-memory") / "pending-migration.json"  # in the project (or working) directory
BACKUPS = Path("lg-memory-backups")
CATCH_UP_PASSES = 5  # passes over threads written during the move, before asking to stop them
KEEP_TARGET, REPLACE = "keep-target", "replace"  # what to do with threads both stores hold
_NAMED = 3  # threads named in a one-line message

Opener = Callable[[Settings], AbstractContextManager[tuple[Backend, store.Saver]]]
Progress = Callable[[str], AbstractContextManager[Callable[[int], None]]]
Key = tuple[str, str]  # (checkpoint_ns, checkpoint_id) within a thread


@dataclass(frozen=True)
class Plan:
    from_type: str
    from_namespace: str
    to_type: str
    to_namespace: str
    backup: str | None = None  # set once the backup is written and verified
    # A custom source's saver when the project no longer holds it (kept by a switch).
    from_custom_saver: str | None = None
    # What `copier update` changed (extensions/switch_backend.py): the commit it started from,
    # each file it touched with its sha256 after the update (null: deleted), and those it
    # created. `--abort` puts them back.
    switch: dict[str, Any] | None = None
    choice: str | None = None  # KEEP_TARGET or REPLACE, for threads both stores hold
    kept: list[str] = field(default_factory=list)  # threads whose target copies are kept
    moved: list[str] = field(default_factory=list)  # files imported and verified, in order
    blocked: str | None = None  # why the move can never finish, once found

    def describe(self) -> str:
        return (
            f"{self.from_type} (namespace {self.from_namespace}) -> "
            f"{self.to_type} (namespace {self.to_namespace})"
        )

    def way_back(self) -> str:
        if self.switch:
            return f"`lg-memory migrate --abort` switches the project back to {self.from_type}"
        return "`lg-memory migrate --abort` gives the move up"


def pending(home: Path) -> Plan | None:
    try:
        data = json.loads((home / MARKER).read_text())
        known = {f.name for f in fields(Plan)}
        return Plan(**{k: v for k, v in data.items() if k in known})
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, AttributeError):
        raise CheckpointError(f"corrupted data: {MARKER} is not a migration plan") from None


def reminder(home: Path) -> str | None:
    plan = pending(home)
    if plan is None:
        return None
    untouched = f"nothing is lost: the {plan.from_type} store is untouched"
    if plan.blocked:
        return (
            f"lg-memory: a migration {plan.describe()} cannot finish ({plan.blocked}): "
            f"{plan.way_back()} ({untouched})"
        )
    return (
        f"lg-memory: a migration {plan.describe()} is not finished: run `lg-memory migrate "
        f"--resume` to finish it, or {plan.way_back()} ({untouched})"
    )


def _save(home: Path, plan: Plan) -> None:
    marker = home / MARKER
    marker.parent.mkdir(exist_ok=True)
    (marker.parent / ".gitignore").write_text("*\n")
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps(asdict(plan), indent=2) + "\n")
    partial.replace(marker)


def export_to(
    backend: Backend,
    saver: store.Saver,
    settings: Settings,
    out: TextIO | BinaryIO,
    thread_id: str | None,
    progress: Callable[[int], None] | None = None,
) -> transfer.Summary:
    # Values as stored: no class named in them is rebuilt (see transfer.verbatim).
    # Closed here, while its connection is open, even when the writing stops half-way.
    with transfer.verbatim(saver), closing(backend.records(saver, thread_id)) as records:
        return transfer.export_records(
            records,
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
    choice: str | None = None,
    trust: Iterable[str] = (),
) -> str:
    """Move everything from `source` to `target`; returns the report line.

    `trust` names the modules whose classes values may be rebuilt from, where the target makes
    them be decoded (Redis' channel values): the project's package, and more."""
    started = time.perf_counter()
    home = target.home
    plan = pending(home) if resume else None
    if resume and plan is None:
        raise CheckpointError("no migration to resume")
    if plan is None:
        require_store(source)
        plan = Plan(source.type, source.namespace, target.type, target.namespace)
        if (earlier := pending(home)) is not None and earlier.describe() == plan.describe():
            # The same move, run by hand (`--from-type`): a switch's way back is kept.
            plan = replace(plan, switch=earlier.switch, from_custom_saver=earlier.from_custom_saver)
        _save(home, plan)
    if (choice and choice != plan.choice) or plan.blocked:  # blocked: found again, if so
        plan = replace(plan, choice=choice or plan.choice, blocked=None)
        _save(home, plan)
    if not all((home / name).is_file() for name in plan.moved):  # deleted: moved again
        plan = replace(plan, moved=[])
    if plan.backup is not None and not (home / plan.backup).is_file():  # deleted: made again
        plan = replace(plan, backup=None, moved=[])
        _save(home, plan)
    move = _Move(home, plan, source, target, opened, progress, list(trust))
    try:
        report = move.run()
    except (transfer.Untrusted, transfer.Unmovable) as exc:
        # Raised before the file at hand was written: by the first pass, nothing was.
        written = "Nothing was written" if not move.plan.moved else "The rest was not written"
        if isinstance(exc, transfer.Untrusted):
            raise CheckpointError(
                f"migration error: moving to {target.label}: {exc}. {written}. If you trust "
                "that module: "
                f"`lg-memory migrate --resume --trust {exc.module}`; or {move.plan.way_back()}"
            ) from None
        _save(home, replace(move.plan, blocked=str(exc)))
        raise CheckpointError(
            f"migration error: {target.label} cannot hold this store as it is: {exc}. "
            f"{written}, and a retry would give the same result: {move.plan.way_back()} "
            f"(the {source.label} store is untouched)"
        ) from None
    (home / MARKER).unlink(missing_ok=True)
    return f"{report} in {time.perf_counter() - started:.1f} s" + move.epilogue()


def require_store(settings: Settings) -> None:
    """A clear error, and no empty store created, when the store to read is not there."""
    if not backends.load(settings.type).exists(settings):
        raise CheckpointError(
            f"checkpoint not found: no {settings.label} store at {settings.redacted} "
            f"(namespace {settings.namespace}); check --connection-string and --namespace"
        )


def _export_file(
    home: Path,
    settings: Settings,
    backend: Backend,
    saver: store.Saver,
    threads: list[str] | None,
    suffix: str,
    progress: AbstractContextManager[Callable[[int], None]],
    load: transfer.Loader | None = None,
) -> Path:
    """An export of the store (or of `threads`) in `lg-memory-backups/`, complete or absent.

    With `load`, a bulk loader, the records are loaded as they are written: the file is
    complete before the loader's transaction commits, and absent if it does not."""
    backups = home / BACKUPS
    backups.mkdir(exist_ok=True)
    (backups / ".gitignore").write_text("*\n")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = backups / f"{settings.type}-{settings.namespace}-{stamp}{suffix}.jsonl"
    n = 1
    while path.exists():  # two in one second: a catch-up pass right after the backup
        n += 1
        path = backups / f"{settings.type}-{settings.namespace}-{stamp}{suffix}-{n}.jsonl"
    partial = path.with_name(path.name + ".partial")
    index: dict[str, _Thread] = {}
    try:
        with (
            open(partial, "wb", buffering=transfer.BUFFER) as out,
            progress as tick,
            transfer.verbatim(saver),
            closing(
                backend.records(saver, None)
                if threads is None
                else _closed_each(backend, saver, threads)
            ) as records,
        ):
            written = transfer.passing(
                _indexed(records, index),
                out,
                source={"type": settings.type, "namespace": settings.namespace},
                progress=tick,
            )

            def completed() -> Iterator[transfer.Json]:
                yield from written
                out.flush()
                # Verified by the import before it writes (count, checksum), or by the
                # loader's consuming the last record before it commits.
                partial.replace(path)

            if load is None:
                for _ in completed():
                    pass
            else:
                load(completed())
                if not path.is_file():  # the loader stopped reading before the end
                    raise CheckpointError(
                        f"migration error: the import stopped reading {path.name} before its "
                        "end; run `lg-memory migrate --resume` to move it again"
                    )
    finally:
        partial.unlink(missing_ok=True)
    _WRITTEN[path] = index
    return path


def _indexed(records: Iterable[transfer.Json], index: dict[str, _Thread]) -> Iterator[Any]:
    """The records, noted in `index` as they pass (the file need not be read again for it).
    They are in export order: a thread's records follow each other."""
    thread_id: str | None = None
    keys: list[Key] = []
    writes = 0
    for rec in records:
        if rec["thread_id"] != thread_id:
            if thread_id is not None:
                _note(index, thread_id, keys, writes)
            thread_id, keys, writes = rec["thread_id"], [], 0
        keys.append((rec["checkpoint_ns"], rec["checkpoint_id"]))
        writes += len(rec["writes"])
        yield rec
    if thread_id is not None:
        _note(index, thread_id, keys, writes)


def _closed_each(backend: Backend, saver: store.Saver, threads: list[str]) -> Generator[Any]:
    for thread_id in threads:
        with closing(backend.records(saver, thread_id)) as records:
            yield from records


# -- what moved ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Keys:
    """The keys of a thread's checkpoints, with their count and the newest checkpoint id. A move
    holds them for every thread of the store: packed (the JSON of the sorted keys, a few hundred
    bytes), they take a fifth of the memory of a set of them."""

    packed: bytes
    count: int
    latest: str

    @classmethod
    def of(cls, keys: Iterable[Key]) -> _Keys:
        ordered = sorted(set(keys))
        packed = bytes(memoryview(orjson.dumps(ordered)))  # a copy: orjson's keeps its buffer
        return cls(packed, len(ordered), max(key[1] for key in ordered))

    def unpacked(self) -> set[Key]:
        return {(ns, checkpoint_id) for ns, checkpoint_id in orjson.loads(self.packed)}

    def __or__(self, other: _Keys) -> _Keys:
        return self if other.packed == self.packed else _Keys.of(self.unpacked() | other.unpacked())


@dataclass(frozen=True, slots=True)
class _Thread:
    """A thread as an export holds it: its checkpoints' keys, its pending writes, and its lines
    (which follow each other in the file, in the order of the export's index)."""

    keys: _Keys
    writes: int
    lines: int


def _note(index: dict[str, _Thread], thread_id: str, keys: list[Key], writes: int) -> None:
    thread = _Thread(_Keys.of(keys), writes, len(keys))
    if (earlier := index.get(thread_id)) is not None:  # records out of export order
        thread = _Thread(
            earlier.keys | thread.keys, earlier.writes + thread.writes, earlier.lines + thread.lines
        )
    index[thread_id] = thread


_WRITTEN: dict[Path, dict[str, _Thread]] = {}  # the index of each export this process wrote


def _index(path: Path) -> dict[str, _Thread]:
    """The threads of an export, with the keys of their checkpoints, in the file's order."""
    if path in _WRITTEN:
        return _WRITTEN[path]
    found: dict[str, _Thread] = {}
    with path.open("rb", buffering=transfer.BUFFER) as f:
        for _ in _indexed(map(transfer.parse_json, _body(f)), found):
            pass
    return found


def _body(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The checkpoint lines of an export: without its header and its trailer."""
    previous: bytes | None = None
    for n, line in enumerate(lines):
        if n > 1 and previous is not None:
            yield previous
        previous = line.rstrip(b"\r\n")


@dataclass
class _Moved:
    """Every thread moved so far: each checkpoint key moved (the source may have deleted some
    since), and the thread as the newest export that held it saw it."""

    keys: dict[str, _Keys] = field(default_factory=dict)
    last: dict[str, _Thread] = field(default_factory=dict)

    def add(self, index: dict[str, _Thread]) -> None:
        for thread_id, thread in index.items():
            earlier = self.keys.get(thread_id)
            self.keys[thread_id] = thread.keys if earlier is None else earlier | thread.keys
            self.last[thread_id] = thread

    def changed(
        self, found: Iterable[store.Thread], writes: dict[str, int] | None, skip: set[str]
    ) -> list[str]:
        """The threads of `found` (the source's now, with their pending writes where the
        backend counts them) that differ from what moved."""
        changed = []
        for t in found:
            if t.thread_id in skip:
                continue
            last = self.last.get(t.thread_id)
            if (
                last is None
                or (t.checkpoints, t.latest_id) != (last.keys.count, last.keys.latest)
                or (writes is not None and writes.get(t.thread_id, 0) != last.writes)
            ):
                changed.append(t.thread_id)
        return sorted(changed)

    def checkpoints(self, skip: set[str]) -> int:
        return sum(keys.count for t, keys in self.keys.items() if t not in skip)


class _Move:
    """The passes of one run of a move: the backup's, then catch-up passes."""

    def __init__(
        self,
        home: Path,
        plan: Plan,
        source: Settings,
        target: Settings,
        opened: Opener,
        progress: Progress,
        trust: list[str],
    ) -> None:
        self.home, self.plan = home, plan
        self.trust = trust
        self.source, self.target = source, target
        self.opened, self.progress = opened, progress
        self.moved = _Moved()
        self.skip = set(plan.kept)  # threads whose target copies are kept
        self.replaced: dict[str, str] = {}  # thread -> the file its target copy was saved to
        self.passes = 0
        self.arrived = 0  # checkpoints written to the source during the move
        self.backup = home / plan.backup if plan.backup else None

    def run(self) -> str:
        with ExitStack() as stack:
            try:
                backend, saver = stack.enter_context(self.opened(self.target))
            except Exception:
                if self.backup is None:  # made all the same: a resumed move starts from it
                    with self.opened(self.source) as source:
                        self._back_up(source, None)
                raise
            source_backend, source_saver = stack.enter_context(self.opened(self.source))
            for name in self.plan.moved:  # verified by an earlier run
                self.moved.add(_index(self.home / name))
            if self.backup is None:
                self._first_pass((source_backend, source_saver), backend, saver)
            elif not self.plan.moved:
                self._pass(backend, saver, self.backup, first=True)
            before = self.moved.checkpoints(set())
            while changed := self.moved.changed(
                source_backend.threads(source_saver, None),
                source_backend.write_counts(source_saver),
                self.skip,
            ):
                if self.passes == CATCH_UP_PASSES:
                    raise self._still_writing(len(changed))
                self.passes += 1
                path = _export_file(
                    self.home, self.source, source_backend, source_saver, changed,
                    f"-catchup{self.passes}", self.progress(f"catch-up {self.passes}"),
                )  # fmt: skip
                self._pass(backend, saver, path)
            self.arrived = self.moved.checkpoints(set()) - before
            self._final_check(backend, saver)
        threads = [t for t in self.moved.keys if t not in self.skip]
        writes = sum(self.moved.last[t].writes for t in threads)
        return (
            f"migrated {len(threads)} threads, {self.moved.checkpoints(self.skip)} checkpoints "
            f"and {writes} pending writes {self.plan.describe()}"
        )

    def epilogue(self) -> str:
        parts = ["verified"]
        if self.passes:
            what = f"{self.arrived} checkpoints" if self.arrived else "pending writes"
            parts.append(
                f"{what} written during the move were carried over in "
                f"{self.passes} catch-up pass{'es' if self.passes > 1 else ''}"
            )
        if self.skip:
            parts.append(f"kept the {self.target.label} copies of {_names(self.skip)}")
        if self.replaced:
            saved = sorted(set(self.replaced.values()))
            parts.append(
                f"replaced the {self.target.label} copies of {_names(self.replaced)} "
                f"(saved to {', '.join(saved)})"
            )
        parts.append(f"backup: {self.backup}")
        return (
            ", " + "; ".join(parts) + f". The {self.plan.from_type} store is left as it was: "
            "`lg-memory clear` it when satisfied."
        )

    def _back_up(self, source: tuple[Backend, store.Saver], load: transfer.Loader | None) -> Path:
        """Export the source to the backup, recorded in the plan; with `load`, loaded into the
        target as it is written."""
        path = _export_file(
            self.home, self.source, *source, None, "",
            self.progress("import" if load else "backup"), load=load,
        )  # fmt: skip
        self.backup = path
        self.plan = replace(self.plan, backup=_relative(self.home, path), moved=[])
        _save(self.home, self.plan)
        return path

    def _first_pass(
        self, source: tuple[Backend, store.Saver], backend: Backend, saver: store.Saver
    ) -> None:
        """The backup, imported and verified: as it is written, where the target can load it
        so (see `_streamed`)."""
        load = self._streamed(source, backend, saver)
        path = self._back_up(source, load)
        if load is None:
            self._pass(backend, saver, path, first=True)
            return
        index = _index(path)
        self.moved.add(index)
        self._verified(backend, saver, path, index, first=True)

    def _streamed(
        self, source: tuple[Backend, store.Saver], backend: Backend, saver: store.Saver
    ) -> transfer.Loader | None:
        """The target's bulk loader, if the backup can be loaded as it is written: with no
        thread whose target copy is kept, and none the target holds already (those are
        settled first, against the whole backup)."""
        load = backend.loader(saver)
        if load is None or self.skip:
            return None
        held = {t.thread_id for t in backend.threads(saver, None)}
        source_backend, source_saver = source
        if held and held & {t.thread_id for t in source_backend.threads(source_saver, None)}:
            return None
        return load

    def _pass(self, backend: Backend, saver: store.Saver, path: Path, first: bool = False) -> None:
        """Import the export at `path` and verify it, once the threads both stores hold are
        settled."""
        index = _index(path)
        self._settle(backend, saver, index, path, first)
        with self.progress("import") as tick:
            # The import verifies the whole file (format, count, checksum) before writing.
            transfer.import_checkpoints(
                saver,
                path,
                progress=tick,
                trusted=True,
                allowed_modules=self.trust,
                loader=backend.loader(saver),
                skip=self.skip,
            )
        self.moved.add({t: thread for t, thread in index.items() if t not in self.skip})
        self._verified(backend, saver, path, index, first)

    def _verified(
        self,
        backend: Backend,
        saver: store.Saver,
        path: Path,
        index: dict[str, _Thread],
        first: bool,
    ) -> None:
        with self.progress("verify") as tick:
            self._verify(backend, saver, path, index, tick, whole=first)
        self.plan = replace(self.plan, moved=[*self.plan.moved, _relative(self.home, path)])
        _save(self.home, self.plan)

    # -- two histories of one thread --------------------------------------------------------

    def _settle(
        self,
        backend: Backend,
        saver: store.Saver,
        index: dict[str, _Thread],
        path: Path,
        first: bool,
    ) -> None:
        """Find the threads of `index` that the target holds with checkpoints that never
        moved (a history of its own), before anything of `path` is written; keep or replace
        them as chosen, or stop."""
        held = {t.thread_id for t in backend.threads(saver, None)}
        common = sorted((held & set(index)) - self.skip)
        if not common:
            return
        theirs = _keys(backend, saver, common)
        both = [
            t
            for t in common
            if not theirs.get(t, set()) <= self._allowed(t, index[t].keys.unpacked())
        ]
        if not both:
            return
        choice = self.plan.choice
        if choice == KEEP_TARGET:
            self.skip.update(both)
            self.plan = replace(self.plan, kept=sorted(self.skip))
            _save(self.home, self.plan)
        elif choice == REPLACE:
            saved = _export_file(
                self.home, self.target, backend, saver, both, "-replaced",
                self.progress("save"),
            )  # fmt: skip
            for thread_id in both:
                backend.delete_thread(saver, thread_id)
                self.replaced[thread_id] = _relative(self.home, saved)
        else:
            written = "nothing was written" if first else f"{path.name} was not imported"
            raise CheckpointError(
                f"two histories: the {self.target.label} store already holds "
                f"{_names(both)} with checkpoints the {self.source.label} store does not "
                f"have ({written}). Keep the {self.target.label} copies: `lg-memory migrate "
                f"--resume --keep-target`; or replace them with the {self.source.label} ones "
                "(saved to a file first): `lg-memory migrate --resume --replace`"
            )

    # -- verification -----------------------------------------------------------------------

    def _verify(
        self,
        backend: Backend,
        saver: store.Saver,
        path: Path,
        index: dict[str, _Thread],
        progress: Callable[[int], None],
        whole: bool,
    ) -> None:
        """Thread by thread, the target holds every checkpoint of `path` as the file has it,
        and no checkpoint that never moved. Only what moved is compared: other threads of the
        target, and those whose target copies are kept, are not."""
        wanted = sorted(t for t in index if t not in self.skip)
        with transfer.verbatim(saver), path.open("rb", buffering=transfer.BUFFER) as f:
            if whole or len(wanted) > 200:
                records = backend.records(saver, None)
                found = _Cursor(_grouped(records), records.close)
            else:
                found = _Cursor(_each(backend, saver, wanted))
            body = _body(f)
            done = 0
            try:
                # The index gives each thread's lines (they follow each other, in its order):
                # they are parsed only where the target's do not match them one for one.
                for thread_id, thread in index.items():
                    lines = list(itertools.islice(body, thread.lines))
                    if len(lines) < thread.lines:
                        raise self._file_changed(path)
                    if thread_id in self.skip:
                        continue
                    theirs = found.get(thread_id)
                    if len(theirs) != len(lines) or list(theirs.values()) != lines:
                        self._compare(thread_id, lines, theirs)
                    done += len(lines)
                    progress(done)
                if next(body, None) is not None:
                    raise self._file_changed(path)
            finally:
                found.close()

    def _compare(self, thread_id: str, lines: list[bytes], theirs: dict[Key, bytes]) -> None:
        """The target holds each of `lines` (a thread's lines of a file) as it is, and no
        checkpoint of the thread that never moved."""
        ours: dict[Key, bytes] = {}
        for line in lines:
            rec = transfer.parse_json(line)
            if rec["thread_id"] != thread_id:  # not where the file's index has them
                self._differs(thread_id)
            ours[(rec["checkpoint_ns"], rec["checkpoint_id"])] = line
        for key, line in ours.items():
            if theirs.get(key) != line:
                self._differs(thread_id)
        allowed = self._allowed(thread_id, set())
        if any(key not in allowed for key in theirs):
            self._differs(thread_id)

    def _allowed(self, thread_id: str, keys: set[Key]) -> set[Key]:
        """`keys` and every checkpoint key of the thread moved so far."""
        moved = self.moved.keys.get(thread_id)
        return keys | moved.unpacked() if moved is not None else keys

    def _final_check(self, backend: Backend, saver: store.Saver) -> None:
        """The target's count and newest checkpoint of every thread moved, as moved (it
        guards a resumed move against a target changed since its files were verified)."""
        now = {t.thread_id: t for t in backend.threads(saver, None)}
        for thread_id, keys in self.moved.keys.items():
            if thread_id in self.skip:
                continue
            found = now.get(thread_id)
            if found is None or (found.checkpoints, found.latest_id) != (keys.count, keys.latest):
                self._differs(thread_id)

    def _differs(self, thread_id: str) -> None:
        raise CheckpointError(
            f"migration error: the {self.target.label} store differs from what was moved "
            f"(first at thread {thread_id!r}): something else changed it during the move. "
            + self._move_again()
        )

    def _file_changed(self, path: Path) -> CheckpointError:
        return CheckpointError(
            f"migration error: {path.name} changed while the move verified it. "
            + self._move_again()
        )

    def _move_again(self) -> str:
        return (
            f"Nothing is lost (the {self.source.label} store is untouched): run `lg-memory "
            f"migrate --resume` to move it again, or {self.plan.way_back()}"
        )

    def _still_writing(self, threads: int) -> CheckpointError:
        return CheckpointError(
            f"checkpoints keep arriving in the {self.source.label} store: {threads} threads "
            f"changed again after {self.passes} catch-up passes. Stop the agents that write "
            f"to it, then run `lg-memory migrate --resume` (nothing is lost: what moved so far "
            f"is verified and kept, and the {self.source.label} store is untouched)"
        )


def _keys(backend: Backend, saver: store.Saver, threads: list[str]) -> dict[str, set[Key]]:
    """The checkpoint keys of these threads of the store."""
    found: dict[str, set[Key]] = {}
    with transfer.verbatim(saver):
        if len(threads) <= 200:
            for thread_id in threads:
                found[thread_id] = {
                    (t.config["configurable"]["checkpoint_ns"], t.checkpoint["id"])
                    for t in backend.history(saver, thread_id)
                }
        else:
            wanted = set(threads)
            with closing(backend.records(saver, None)) as records:
                for rec in records:
                    if rec["thread_id"] in wanted:
                        key = (rec["checkpoint_ns"], rec["checkpoint_id"])
                        found.setdefault(rec["thread_id"], set()).add(key)
    return found


Group = tuple[str, dict[Key, bytes]]


def _grouped(records: Iterable[transfer.Json]) -> Iterator[Group]:
    """Export records (in export order) as (thread_id, {key: line}), a thread at a time."""
    current: Group | None = None
    for rec in records:
        if current is None or current[0] != rec["thread_id"]:
            if current is not None:
                yield current
            current = (rec["thread_id"], {})
        current[1][(rec["checkpoint_ns"], rec["checkpoint_id"])] = transfer.dumps(rec)
    if current is not None:
        yield current


def _each(backend: Backend, saver: store.Saver, threads: list[str]) -> Iterator[Group]:
    for thread_id in threads:
        with closing(backend.records(saver, thread_id)) as records:
            lines = {(r["checkpoint_ns"], r["checkpoint_id"]): transfer.dumps(r) for r in records}
        yield thread_id, lines


class _Cursor:
    """Groups in ascending thread order, looked up in ascending thread order."""

    def __init__(self, groups: Iterator[Group], close: Callable[[], object] = lambda: None):
        self._groups = groups
        self._ahead: Group | None = None
        self.close = close

    def get(self, thread_id: str) -> dict[Key, bytes]:
        """The checkpoints of `thread_id` (none if absent); the threads before it are passed."""
        while True:
            group = self._ahead or next(self._groups, None)
            self._ahead = None
            if group is None:
                return {}
            if group[0] > thread_id:
                self._ahead = group
                return {}
            if group[0] == thread_id:
                return group[1]


def _names(threads: Iterable[str]) -> str:
    ordered = sorted(threads)
    shown = ", ".join(repr(t) for t in ordered[:_NAMED])
    more = f" and {len(ordered) - _NAMED} more" if len(ordered) > _NAMED else ""
    return f"thread{'s' if len(ordered) > 1 else ''} {shown}{more}"


def _relative(home: Path, path: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)


# -- giving a move up -----------------------------------------------------------------------


def abort(home: Path) -> str:
    """Give the pending move up: a switched project's files go back to the last commit's
    (those the update changed are restored, those it created removed; `.env` is kept), the
    marker goes, and both stores stay as they are."""
    plan = pending(home)
    if plan is None:
        raise CheckpointError("no migration to abort: nothing is pending")
    done = ""
    if not plan.switch and (home / ".copier-answers.yml").is_file():
        done = "; the project's files are left as they are (this move recorded no switch)"
    if plan.switch:
        restored, removed = _switch_back(home, plan.switch)
        done = (
            f"; the project uses {plan.from_type} again ({restored} files restored from "
            f"commit {str(plan.switch['commit'])[:12]}, {removed} removed; .env kept)"
        )
    (home / MARKER).unlink(missing_ok=True)
    kept = plan.from_custom_saver
    if plan.switch and kept and kept.startswith(f"{MARKER.parent}/"):
        (home / kept.rpartition(":")[0]).unlink(missing_ok=True)  # the switch's copy
    backup = f"; backup: {plan.backup}" if plan.backup else ""
    return (
        f"gave up the migration {plan.describe()}{done}. Both stores are left as they are: "
        f"the {plan.from_type} store is untouched, and the {plan.to_type} store keeps what it "
        f"holds{backup}"
    )


def _switch_back(home: Path, switch: dict[str, Any]) -> tuple[int, int]:
    commit = str(switch.get("commit") or "")
    files: dict[str, str | None] = switch.get("files") or {}
    created = set(switch.get("created") or [])
    head = _git(home, "rev-parse", "HEAD").strip()
    if not commit or head != commit:
        raise CheckpointError(
            f"cannot switch back: the project has commits since the switch (HEAD is not "
            f"{commit[:12]}); go back to it yourself (git revert, or git reset), then run "
            "`lg-memory migrate --abort` again"
        )
    edited = sorted(p for p, digest in files.items() if _digest(home / p) != digest)
    if edited:
        raise CheckpointError(
            f"cannot switch back: {', '.join(edited[:_NAMED])} changed since the switch, and "
            "--abort would overwrite the change: save it elsewhere, undo it, then run "
            "`lg-memory migrate --abort` again"
        )
    restore = sorted(p for p in files if p not in created)
    for start in range(0, len(restore), 100):
        _git(home, "checkout", commit, "--", *restore[start : start + 100])
    for name in sorted(created):
        _git(home, "rm", "-q", "--cached", "--ignore-unmatch", "--", name)
        path = home / name
        path.unlink(missing_ok=True)
        for parent in path.parents:  # folders the update created, now empty
            if parent == home or not parent.is_relative_to(home) or any(parent.iterdir()):
                break
            parent.rmdir()
    return len(restore), len(created)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CheckpointError(
            f"cannot switch back: git {args[0]} failed: {done.stderr.strip() or done.returncode}"
        )
    return done.stdout


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
