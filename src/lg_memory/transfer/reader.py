"""Reading an export: the one reader, which verifies a file whole before an import writes
anything (header, every line, checkpoint order, counts, checksum, trailer, and, unless the file
is this project's own, the types its values name), then reads it record by record."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..settings import CheckpointError
from .format import (
    BUFFER,
    FORMAT,
    MAX_LINE_BYTES,
    VERSION,
    Json,
    Tally,
    parse_json,
    record_problem,
    record_values,
)
from .policy import TypePolicy


@dataclass(frozen=True)
class Header:
    """What a verified export holds: its header, and the counts from its trailer."""

    version: int
    created_at: str
    source: dict[str, Any]
    thread_id: str | None
    checkpoints: int
    writes: int


def read_export(
    path: Path, *, allowed_modules: Iterable[str] = (), trusted: bool = False
) -> Header:
    """Verify the whole export at `path` and return its header; CheckpointError if unsound.

    `allowed_modules` adds modules whose classes values may hold (see `policy`);
    `trusted` (a file this project just wrote, such as a backup) skips the type check.
    """
    with Reader(path) as export:
        return export.verify(None if trusted else TypePolicy(allowed_modules)).header


@dataclass
class Verified:
    """A verified export: its header, and what an import of it replays."""

    header: Header
    selected: Tally  # the records an import with this thread filter replays
    found_thread: bool


class Reader:
    """An export file open for reading: verified in one pass, then read in another."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        try:
            self._file: IO[bytes] = path.open("rb", buffering=BUFFER)
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror}") from None
        self._stamp: tuple[int, int] | None = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._file.close()

    def verify(self, policy: TypePolicy | None, thread_id: str | None = None) -> Verified:
        """Every line checked, values against `policy` (None: not checked); `thread_id` is the
        thread an import will replay, counted apart."""
        f, name = self._file, self.name
        f.seek(0)
        first = _first_line(f, name)
        header = _parse_header(first, name)
        scan = _Scan(policy, thread_id)
        scan.digest.update(_normalised(first))
        for raw in _lines(f, name):
            scan.line += 1
            if scan.trailer is not None:
                raise CheckpointError(f"{name} has data after its trailer (line {scan.line})")
            scan.read(raw)
        trailer = _check_trailer(
            name,
            scan.trailer,
            scan.digest.hexdigest(),
            (scan.all.checkpoints, scan.all.writes),
            scan.line if scan.complete else scan.line - 1,
            scan.problem,
        )
        return Verified(
            Header(
                version=header["version"],
                created_at=header["created_at"],
                source=header["source"],
                thread_id=header.get("thread_id"),
                checkpoints=trailer["checkpoints"],
                writes=trailer["writes"],
            ),
            scan.selected,
            found_thread=thread_id is None or scan.selected.checkpoints > 0,
        )

    def check_integrity(self) -> None:
        """Header, checksum and checkpoint count of a file this project wrote, its records left
        unparsed; `records` then checks only that the file's size and time did not change."""
        f, name = self._file, self.name
        f.seek(0)
        self._stamp = _stamp(f)
        first = _first_line(f, name)
        _parse_header(first, name)
        digest = hashlib.sha256(_normalised(first))
        lines, last = 0, b""
        for raw in _lines(f, name):
            if last:
                digest.update(_normalised(last))
                lines += 1
            last = raw
        trailer = _loads(last) if last.endswith(b"\n") else None
        if not (isinstance(trailer, dict) and "end" in trailer):
            trailer = None
        # Its writes are counted as it is read (see `records`).
        _check_trailer(name, trailer, digest.hexdigest(), (lines, None), lines + 1)

    def records(self, thread_id: str | None) -> Iterator[Json]:
        """The records of the verified file (or one thread's); raises at the end if the file
        changed since it was verified: if its checksum differs, or after `check_integrity`, if
        its size or time differs."""
        f, stamp = self._file, self._stamp
        f.seek(0)
        rehash = stamp is None
        digest = hashlib.sha256(_normalised(_first_line(f, self.name)))
        trailer: Json = {}
        writes = 0
        for raw in _lines(f, self.name):
            rec = _loads(raw)
            if "end" in rec:
                trailer = rec
                break
            if rehash:
                digest.update(_normalised(raw))
            writes += len(rec["writes"])
            if thread_id is None or rec["thread_id"] == thread_id:
                yield rec
        same = trailer.get("sha256") == digest.hexdigest() if rehash else _stamp(f) == stamp
        if not same or trailer.get("writes") != writes:
            raise CheckpointError(f"{self.name} changed while it was being imported")


@dataclass
class _Scan:
    """The state of one pass over the lines after the header."""

    policy: TypePolicy | None
    thread_id: str | None
    digest: Any = field(default_factory=hashlib.sha256)
    line: int = 1
    all: Tally = field(default_factory=Tally)
    selected: Tally = field(default_factory=Tally)
    trailer: Json | None = None
    complete: bool = True  # the last line read ended with a newline
    problem: str | None = None  # the first damaged line, reported if the checksum holds

    def read(self, raw: bytes) -> None:
        self.complete = raw.endswith(b"\n")
        obj = _loads(raw)
        if isinstance(obj, dict) and "end" in obj:
            self.trailer = obj
            return
        self.digest.update(_normalised(raw))
        if obj is None:
            self._note("not valid JSON")
            return
        problem = record_problem(obj) or self._order_problem(obj)
        if problem is None and self.policy is not None:
            problem = _values_problem(self.policy, obj)
        if problem:
            self._note(problem)

    def _order_problem(self, record: Json) -> str | None:
        try:
            self.all.add(record)
            if self.thread_id is None or record["thread_id"] == self.thread_id:
                self.selected.add(record)
        except CheckpointError as exc:
            return str(exc)
        return None

    def _note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = f"line {self.line}: {problem}"


def _values_problem(policy: TypePolicy, record: Json) -> str | None:
    for where, name, value in record_values(record):
        if (problem := policy.problem(value)) is not None:
            return f"{where} {name!r} of checkpoint {record['checkpoint_id']}: {problem}"
    return None


def _parse_header(raw: bytes, name: str) -> Json:
    if not raw:
        raise CheckpointError(f"{name} is empty")
    header = _loads(raw)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{name} is not an lg-memory export (no {FORMAT} header on line 1)")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"unsupported export version {header.get('version')!r} in {name}: "
            f"this lg-memory reads version {VERSION}"
        )
    if not (
        isinstance(header.get("created_at"), str)
        and isinstance(header.get("source"), dict)
        and isinstance(header.get("thread_id"), str | None)
    ):
        raise CheckpointError(f"{name}: line 1: the header is malformed")
    return header


def _check_trailer(
    name: str,
    trailer: Json | None,
    digest: str,
    counts: tuple[int, int | None],
    last_line: int,
    problem: str | None = None,
) -> Json:
    """The trailer of a file whose lines hash to `digest` and hold `counts` (checkpoints and
    writes, None when they are counted later); `problem` is the first damaged line, if any."""
    if trailer is None:
        raise CheckpointError(f"{name} is truncated: no trailer after line {last_line}")
    if trailer.get("sha256") != digest:
        where = f" (first damage: {problem})" if problem else ""
        raise CheckpointError(f"{name}: checksum mismatch: the file was edited or corrupted{where}")
    if problem:
        raise CheckpointError(f"{name}: {problem}")
    said = (trailer.get("checkpoints"), trailer.get("writes") if counts[1] is not None else None)
    if trailer.get("end") is not True or said != counts:
        writes = f" and {said[1]} writes" if counts[1] is not None else ""
        held = f" and {counts[1]}" if counts[1] is not None else ""
        raise CheckpointError(
            f"{name}: the trailer counts {said[0]} checkpoints{writes} but the file holds "
            f"{counts[0]}{held}: the file was edited or corrupted"
        )
    return trailer


def _first_line(f: IO[bytes], name: str) -> bytes:
    return next(_lines(f, name, start=0), b"")


def _lines(f: IO[bytes], name: str, start: int = 1) -> Iterator[bytes]:
    """The lines of `f` from its position, each refused past `MAX_LINE_BYTES` before it is
    held whole (a file of one endless line does not fill the memory)."""
    number = start
    while raw := f.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise CheckpointError(
                f"{name}, line {number}: longer than {MAX_LINE_BYTES // 2**20} MiB, "
                "more than any export holds: not an lg-memory export, or damaged"
            )
        yield raw


def _loads(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except ValueError:
        return None


def _normalised(raw: bytes) -> bytes:
    if raw.endswith(b"\n") and not raw.endswith(b"\r\n"):
        return raw
    return raw.rstrip(b"\r\n") + b"\n"


def _stamp(f: IO[bytes]) -> tuple[int, int]:
    status = os.fstat(f.fileno())
    return status.st_size, status.st_mtime_ns
