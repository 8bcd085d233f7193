"""`lg-memory`: set up, see, back up, restore, trim, clear and move LangGraph checkpoints.

    lg-memory setup [--preset P | --type T [--connection-string S] [--async] [--ttl N]]
    lg-memory list [--thread-id T] [--limit N]      lg-memory info
    lg-memory export [--thread-id T] [-o FILE]      lg-memory import FILE [--trust MODULE]
    lg-memory clear [--thread-id T [--checkpoint-id C]] [--yes | --dry-run] [--backup FILE]
    lg-memory prune (--keep-last N | --older-than 7d) [--yes | --dry-run]   lg-memory check
    lg-memory migrate --to-type T [--connection-string S]      (a project: re-rendered, data moved)
    lg-memory migrate --from-type A [--from-connection-string X] --to-type B [...]  (data only)

Every command works on a project (`--project DIR`, default `.`: its answers and its `.env`)
or on any LangGraph store (`--type`, `--connection-string`). Errors are one line on stderr
and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from langgraph.checkpoint.base import CheckpointTuple

from . import backends, catalog, chains, migrate, store, transfer
from .backends import Backend, Saver
from .settings import CheckpointError, Settings, answers_file, load_settings

EXIT_ERROR = 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The pool retries a dead server for a while, logging each try: the one-line error says it.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    # Values of classes outside the safe list are read as the application reads them; the
    # serializer's warning about each is for the application's log, not for this command.
    logging.getLogger("langgraph.checkpoint.serde.jsonplus").setLevel(logging.ERROR)
    previous = signal.signal(signal.SIGTERM, _terminated)  # half-written files are removed
    settings: Settings | None = None
    try:
        if args.command is cmd_setup:
            from . import setup

            code: int = setup.run(args)
            return code
        project = Path(args.project)
        if not project.is_dir():
            raise CheckpointError(f"no such project directory: {project}")
        if args.command is not cmd_migrate and (note := migrate.reminder(project)):
            print(note, file=sys.stderr)
        settings = load_settings(args.type, args.connection_string, args.namespace, project=project)
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        return command(args, settings)
    except KeyboardInterrupt:
        print("lg-memory: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lg-memory list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as exc:  # every error is one line, never a traceback
        if os.environ.get("LG_MEMORY_DEBUG"):
            raise
        print(f"lg-memory: error: {describe(exc, settings)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def describe(exc: BaseException, settings: Settings | None) -> str:
    """One line naming the problem (the seed's error classes) and what to do."""
    if isinstance(exc, CheckpointError):
        message = str(exc)
    elif (native := backends.describe_error(exc)) is not None:
        message = native
    elif isinstance(exc, OSError) and exc.filename is not None:
        message = f"cannot use {exc.filename}: {exc.strerror}"
    else:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if settings is not None:  # never print a password, whatever a library put in its message
        ours = isinstance(exc, CheckpointError)  # written with the redacted string already
        message = message if ours else settings.hide_secrets(message)
        message = message.replace(settings.connection_string, settings.redacted)
    return message


# ---- the commands -------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as (backend, saver):
        found = backend.stats(saver, settings)
    print(
        f"ok: {settings.label} at {settings.redacted or 'in process'}, namespace "
        f"{settings.namespace}: {found.threads} threads, {found.checkpoints} checkpoints"
    )
    return 0


def cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, create=False) as (backend, saver):
        found = backend.stats(saver, settings)
    info = {
        "memory_system": settings.label,
        "connection": settings.redacted or "in process",
        "async": settings.async_,
        "threads": found.threads,
        "total_checkpoints": found.checkpoints,
        "namespace": settings.namespace,
        "storage_bytes": found.storage_bytes,
        "ttl_seconds": settings.ttl,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    size = "unknown" if found.storage_bytes is None else human_size(found.storage_bytes)
    print(f"Memory System: {settings.label}")
    print(f"Connection: {info['connection']}")
    print(f"Async: {'enabled' if settings.async_ else 'disabled'}")
    print(f"Threads: {found.threads}")
    print(f"Total Checkpoints: {found.checkpoints}")
    print(f"Namespace: {settings.namespace}")
    print(f"Storage Size: {size}")
    if settings.ttl:
        print(f"TTL: {settings.ttl} s")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, create=False) as (backend, saver):
        if args.thread_id:
            chosen = [store.thread(backend, saver, args.thread_id)]
        else:
            chosen = backend.threads(saver, args.limit)
        listing = [describe_thread(backend, saver, t, args.checkpoints) for t in chosen]
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for thread in listing:
        print(f"Thread: {thread['thread_id']} ({thread['checkpoints']} checkpoints)")
        for ns, entries in thread["namespaces"].items():
            indent = "  "
            if ns:
                print(f"  Subgraph: {ns}")
                indent = "    "
            if thread["shown"] < thread["checkpoints"] and ns == min(thread["namespaces"]):
                print(f"{indent}... {thread['checkpoints'] - thread['shown']} older not shown")
            for e in entries:
                paused = e["interrupted_before"]
                mark = f" (interrupted before {', '.join(paused)})" if paused else ""
                print(f"{indent}{e['checkpoint_id']}  {e['time']}  step: {e['step']}{mark}")
        print()
    if not listing:
        print(f"No threads in namespace {settings.namespace}.")
    return 0


def describe_thread(
    backend: Backend, saver: Saver, thread: store.Thread, keep: int
) -> dict[str, Any]:
    """A thread's newest `keep` checkpoints grouped by checkpoint_ns (root first), oldest first."""
    by_ns: dict[str, list[CheckpointTuple]] = {}
    # One more than shown: the step of the oldest one shown is read against its parent.
    for t in backend.history(saver, thread.thread_id, limit=keep + 1):
        by_ns.setdefault(t.config["configurable"]["checkpoint_ns"], []).append(t)
    latest = saver.get_tuple({"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": ""}})
    paused = store.next_nodes(latest) if latest is not None else ()
    namespaces: dict[str, list[dict[str, Any]]] = {}
    for ns in sorted(by_ns):
        chain = by_ns[ns][::-1]  # oldest first
        entries = []
        for i, t in enumerate(chain):
            stopped = bool(paused) and not ns and i == len(chain) - 1
            entries.append(
                {
                    "checkpoint_id": t.checkpoint["id"],
                    "time": store.timestamp(t.checkpoint["ts"]),
                    "step": store.step_name(t, chain[i - 1] if i else None),
                    "interrupted_before": list(paused) if stopped else None,
                    "parent_checkpoint_id": store.parent_id(t),
                }
            )
        namespaces[ns] = entries
    shown = sum(map(len, namespaces.values()))
    if shown > keep:  # drop the extra (oldest) one
        oldest_ns = min(namespaces, key=lambda n: namespaces[n][0]["checkpoint_id"])
        namespaces[oldest_ns] = namespaces[oldest_ns][1:]
        namespaces = {n: e for n, e in namespaces.items() if e}
        shown -= 1
    return {
        "thread_id": thread.thread_id,
        "checkpoints": thread.checkpoints,
        "shown": shown,
        "namespaces": namespaces,
    }


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, create=False) as (backend, saver):
        if args.thread_id:
            store.require_thread(saver, args.thread_id)
        with output(args.output) as out, progress("export") as tick:
            summary = migrate.export_to(backend, saver, settings, out, args.thread_id, tick)
    report(
        f"exported {summary.checkpoints} checkpoints of {summary.threads} threads "
        f"({summary.writes} pending writes) in {summary.seconds:.1f} s",
        args.output,
    )
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise CheckpointError(f"cannot read {path}: is a directory")
    if not path.is_file():
        raise CheckpointError(f"cannot read {path}: no such file")
    with opened(settings) as (backend, saver), progress("import") as tick:
        summary = transfer.import_checkpoints(
            saver,
            path,
            thread_id=args.thread_id,
            dry_run=args.dry_run,
            progress=tick,
            loader=backend.loader(saver),
            allowed_modules=[*trusted_modules(settings, args.trust), *serde_allows(saver)],
        )
    verb = "would import" if args.dry_run else "imported"
    print(
        f"{verb} {summary.checkpoints} checkpoints of {summary.threads} threads "
        f"({summary.writes} pending writes) from {path} in {summary.seconds:.1f} s"
    )
    return 0


def cmd_clear(args: argparse.Namespace, settings: Settings) -> int:
    if args.checkpoint_id and not args.thread_id:
        raise CheckpointError("--checkpoint-id needs --thread-id")
    with opened(settings, create=False) as (backend, saver):
        before = backend.stats(saver, settings)
        plan: chains.Plan | None = None
        if args.checkpoint_id:
            target = store.find_checkpoint(backend, saver, args.thread_id, args.checkpoint_id)
            # Refused (nothing deleted) when a DeltaChannel of a later checkpoint replays it.
            key = (target.config["configurable"]["checkpoint_ns"], args.checkpoint_id)
            plan = backend.plan_delete(saver, args.thread_id, [key])
            scope, count = f"checkpoint {args.checkpoint_id} of thread {args.thread_id}", 1
        elif args.thread_id:
            store.require_thread(saver, args.thread_id)
            scope = f"thread {args.thread_id}"
            count = store.thread(backend, saver, args.thread_id).checkpoints
        else:
            scope = f"all {before.threads} threads of namespace {settings.namespace}"
            count = before.checkpoints
        if args.dry_run:
            of = "" if args.thread_id else f" of {before.threads} threads"
            print(f"clear would delete {count} checkpoint{'s' if count != 1 else ''}{of} "
                  f"({scope}); nothing was deleted")  # fmt: skip
            return 0
        confirm(f"Delete {scope} from {settings.label}?", args.yes)
        if args.backup:
            with open(args.backup, "w", encoding="utf-8") as out, progress("backup") as tick:
                migrate.export_to(backend, saver, settings, out, args.thread_id, tick)
            # Verified before anything is deleted; its values are the store's own, of any class.
            transfer.read_export(Path(args.backup), trusted=True)
        if plan is not None:
            backend.delete_checkpoints(saver, plan)
        else:
            ids = [args.thread_id] if args.thread_id else all_thread_ids(backend, saver)
            with progress("clear") as tick:
                for n, thread_id in enumerate(ids, 1):
                    backend.delete_thread(saver, thread_id)
                    tick(n)
        backend.vacuum(saver)
        after = backend.stats(saver, settings)
        verify_cleared(backend, saver, args, after)
    freed = ""
    if before.storage_bytes is not None and after.storage_bytes is not None:
        freed = f", {human_size(max(0, before.storage_bytes - after.storage_bytes))} freed"
    print(f"cleared {scope}: {before.checkpoints - after.checkpoints} checkpoints deleted{freed}")
    return 0


def verify_cleared(
    backend: Backend, saver: Saver, args: argparse.Namespace, after: store.Stats
) -> None:
    if not args.thread_id:
        if after.checkpoints:
            raise CheckpointError(f"clear left {after.checkpoints} checkpoints behind")
        return
    left = [t.checkpoint["id"] for t in backend.history(saver, args.thread_id)]
    if args.checkpoint_id in left or (left and not args.checkpoint_id):
        raise CheckpointError(f"clear did not delete everything it should have: {left[:3]}")


def all_thread_ids(backend: Backend, saver: Saver) -> list[str]:
    return [t.thread_id for t in backend.threads(saver, None)]


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    """Whole idle threads (`--older-than`), or all but the newest checkpoints of each thread
    (`--keep-last`) and what their DeltaChannels replay (see chains.py): planned first, so
    `--dry-run` and the question say what goes."""
    if args.keep_last is None and args.older_than is None and settings.ttl:
        args.older_than = f"{settings.ttl}s"  # the project's TTL, on backends without a native one
    if (args.keep_last is None) == (args.older_than is None):
        raise CheckpointError(
            "prune needs one of --keep-last N or --older-than DURATION (or a ttl setting)"
        )
    if args.keep_last is not None and args.keep_last < 1:
        raise CheckpointError("--keep-last must be 1 or more (use clear to delete all)")
    with opened(settings, create=False) as (backend, saver):
        before = backend.stats(saver, settings)
        found = backend.threads(saver, None)
        plans: list[chains.Plan] = []
        if args.older_than is not None:
            cutoff = datetime.now(UTC) - parse_duration(args.older_than)
            stale = [t for t in found if thread_time(saver, t.thread_id) < cutoff]
            what = f"{len(stale)} threads idle for more than {args.older_than}"
            lines = [f"{t.thread_id}: would delete {t.checkpoints} checkpoints" for t in stale]
            doomed, threads = sum(t.checkpoints for t in stale), len(stale)
        else:
            with progress("plan") as tick:
                for n, t in enumerate(found, 1):
                    plans.append(backend.plan_keep_last(saver, t.thread_id, args.keep_last))
                    tick(n)
            what = f"all but the last {args.keep_last} checkpoints of each thread"
            lines = [
                f"{p.thread_id}: {'' if not p.doomed else 'would delete '}{text}"
                for p in plans
                if (text := p.describe())
            ]
            doomed = sum(len(p.doomed) for p in plans)
            threads = sum(1 for p in plans if p.doomed)
        if args.dry_run:
            print("\n".join([*lines, f"prune would delete {doomed} checkpoints of {threads} "
                              f"threads ({what}); nothing was deleted"]))  # fmt: skip
            return 0
        if doomed:
            confirm(f"Delete {doomed} checkpoints of {threads} threads ({what}) "
                    f"from {settings.label}?", args.yes)  # fmt: skip
        with progress("prune") as tick:
            if args.older_than is not None:
                for n, t in enumerate(stale, 1):
                    backend.delete_thread(saver, t.thread_id)
                    tick(n)
            else:
                for n, plan in enumerate(p for p in plans if p.doomed):
                    backend.delete_checkpoints(saver, plan)
                    tick(n + 1)
        backend.vacuum(saver)
        after = backend.stats(saver, settings)
    print(f"pruned {what}: {before.checkpoints - after.checkpoints} checkpoints deleted")
    for plan in plans:
        if plan.held:  # kept for a DeltaChannel: say so
            print(f"  {plan.thread_id}: kept {len(plan.held)} more: a DeltaChannel replays them"
                  if plan.doomed else f"  {plan.thread_id}: {plan.describe()}")  # fmt: skip
    return 0


def thread_time(saver: Saver, thread_id: str) -> datetime:
    latest = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    if latest is None:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.fromisoformat(latest.checkpoint["ts"])


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    project = Path(args.project).resolve()
    if args.abort:
        print(migrate.abort(settings.home))
        return 0
    rerender = not (args.from_type or args.resume) and (args.to_type or args.preset)
    if rerender and answers_file(project) is None:
        raise CheckpointError(
            f"{project} was not set up by lg-memory: give --from-type (and its connection "
            "string) to move checkpoints between two stores, or --project DIR"
        )
    if rerender:
        # A project: re-rendered for the new backend; the template's migration moves the data.
        from . import setup

        data = setup.answers_from_flags(argparse.Namespace(**{**vars(args), "type": args.to_type}))
        return setup.switch(project, data)
    source, target = migrate.settings_pair(args, settings)
    trust = trusted_modules(settings, args.trust)
    print(
        migrate.run(
            source, target, opened, progress, resume=args.resume, choice=args.choice, trust=trust
        )
    )
    return 0


# ---- plumbing -----------------------------------------------------------------------------


@contextlib.contextmanager
def opened(settings: Settings, create: bool = True) -> Iterator[tuple[Backend, Saver]]:
    """The backend and an open saver; without `create`, a file store must exist already."""
    backend = backends.load(settings.type)
    if not create:
        migrate.require_store(settings)
    with backend.open_saver(settings) as saver:
        yield backend, saver


@contextlib.contextmanager
def output(path: str | None) -> Iterator[BinaryIO | TextIO]:
    """stdout, or a file that only appears once complete (no half-written backups); as bytes
    where it can take them (an export is UTF-8 already)."""
    if path is None or path == "-":
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a stdout replaced by a text-only stream
            yield sys.stdout
            return
        sys.stdout.flush()
        yield binary
        binary.flush()
        return
    final = Path(path)
    if final.is_dir():
        raise CheckpointError(f"cannot write {final}: is a directory")
    partial = final.with_name(final.name + ".partial")
    try:
        with open(partial, "wb", buffering=transfer.BUFFER) as out:
            yield out
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def progress(what: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(desc=what, unit=" items", file=sys.stderr, leave=False) as bar:

        def tick(done: int) -> None:
            bar.update(done - bar.n)

        yield tick


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CheckpointError("refusing to delete without confirmation: add --yes")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise CheckpointError("cancelled: nothing was deleted")


def report(message: str, output_path: str | None) -> None:
    # With the export on stdout, the summary goes to stderr so `> backup.json` stays clean.
    print(message, file=sys.stderr if output_path in (None, "-") else sys.stdout)


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip())
    if not match:
        raise CheckpointError(f"bad duration {text!r}: use a number and s, m, h, d or w (e.g. 7d)")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match[2]]
    return timedelta(seconds=int(match[1]) * seconds)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def serde_allows(saver: Saver) -> list[str]:
    """The classes the saver's own serializer was told to rebuild (`allowed_msgpack_modules`),
    as `module:Class`: an import trusts them too."""
    allowlist = getattr(saver.serde, "_allowed_msgpack_modules", None)
    if not isinstance(allowlist, set | frozenset | list | tuple):
        return []  # None (strict: safe types only) or True (everything: trusts nothing more)
    return [f"{key[0]}:{key[1]}" for key in allowlist if isinstance(key, tuple) and len(key) >= 2]


def trusted_modules(settings: Settings, extra: list[str] | None) -> list[str]:
    """The modules whose classes an import may rebuild: the project's package, and more."""
    return [*([settings.package] if settings.package else []), *(extra or [])]


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    raise AssertionError("dispatched in main()")  # setup has no store to open first


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project", default=".", metavar="DIR", help="the project (default: the current directory)"
    )
    common.add_argument("--type", help="memory system type (default: the project's)")
    common.add_argument("--connection-string", help="default: the project's .env / environment")
    common.add_argument("--namespace", help="checkpoint namespace (default: the project's)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    root = argparse.ArgumentParser(
        prog="lg-memory",
        description="Durable memory for LangGraph agents: set up, see, back up, restore, trim, "
        "clear and move checkpoints, of a project (--project) or of any store (--type).",
    )
    sub = root.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, func: Callable[..., int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(command=func)
        return p

    def answers(p: argparse.ArgumentParser) -> None:
        """The questions of the template, as flags."""
        p.add_argument("--preset", choices=list(catalog.PRESETS), help="a preset of the seed")
        p.add_argument("--async", dest="async_", action="store_true", default=None,
                       help="use the async checkpointer")  # fmt: skip
        p.add_argument("--ttl", type=int, help="seconds to keep checkpoints (0 = forever)")
        p.add_argument("--template", metavar="SRC", help="the template (default: lg-memory's own)")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = command("setup", cmd_setup, "give a project durable memory (renders the template)")
    answers(p)
    p.add_argument("--project-name", help="for a new project (default: the directory's name)")
    p.add_argument("--wire", metavar="FILE.py:VARIABLE",
                   help="give this module-level compile() the checkpointer")  # fmt: skip
    p.add_argument("--interrupt-before", metavar="NODE,...", type=lambda v: v.split(","),
                   help="with --wire: pause before these nodes (human-in-the-loop)")  # fmt: skip
    p = command("list", cmd_list, "list threads and their checkpoints")
    p.add_argument("--thread-id", type=nonempty("--thread-id"))
    p.add_argument("--limit", type=positive("--limit"), default=20, help="threads, newest first")
    p.add_argument("--checkpoints", type=positive("--checkpoints"), default=20, help="per thread")
    command("info", cmd_info, "summarise the store")
    command("check", cmd_check, "connect and verify the storage is initialised")
    p = command("export", cmd_export, "write checkpoints to a backup file (stdout by default)")
    p.add_argument("--thread-id", type=nonempty("--thread-id"))
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p = command("import", cmd_import, "restore checkpoints from an export file")
    p.add_argument("file")
    p.add_argument("--thread-id", type=nonempty("--thread-id"), help="import this thread only")
    p.add_argument("--dry-run", action="store_true", help="verify and count, write nothing")
    p.add_argument(
        "--trust",
        action="append",
        metavar="MODULE",
        help="also rebuild classes of MODULE (repeatable; the project's package is trusted)",
    )
    p = command("clear", cmd_clear, "delete checkpoints")
    p.add_argument("--thread-id", type=nonempty("--thread-id"))
    p.add_argument("--checkpoint-id", type=nonempty("--checkpoint-id"))
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--backup", metavar="FILE", help="export the scope to FILE first")
    p.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    p = command("prune", cmd_prune, "apply a retention policy")
    p.add_argument("--keep-last", type=int, metavar="N", help="keep the N newest per thread")
    p.add_argument("--older-than", metavar="DURATION", help="delete threads idle longer (7d)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    p = command("migrate", cmd_migrate, "move every checkpoint to another backend, verified")
    p.add_argument("--from-type", help="the backend to copy from (data only, no re-render)")
    p.add_argument("--from-connection-string", help="default: its variable in the environment")
    p.add_argument("--from-namespace", help="default: --namespace")
    p.add_argument("--to-type", help="default: the project's type")
    p.add_argument("--resume", action="store_true", help="finish an interrupted migration")
    p.add_argument(
        "--abort",
        action="store_true",
        help="give a pending migration up: a switched project goes back to its last commit's "
        "backend (both stores are left as they are)",
    )
    both = p.add_mutually_exclusive_group()
    both.add_argument("--keep-target", dest="choice", action="store_const",
                      const=migrate.KEEP_TARGET,
                      help="threads the target holds already keep their target copies")  # fmt: skip
    both.add_argument("--replace", dest="choice", action="store_const", const=migrate.REPLACE,
                      help="threads the target holds already are replaced by the source's "
                      "(the target's copies are saved to a file first)")  # fmt: skip
    p.add_argument(
        "--trust",
        action="append",
        metavar="MODULE",
        help="where the target makes values be rebuilt (Redis), also rebuild classes of "
        "MODULE (repeatable; the project's package is trusted)",
    )
    answers(p)
    return root


def nonempty(flag: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(f"{flag} must not be empty")
        return value

    return check


def positive(flag: str) -> Callable[[str], int]:
    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number, 1 or more")
        return number

    return check


if __name__ == "__main__":
    sys.exit(main())
