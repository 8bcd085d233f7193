"""`lg-memory setup` and `lg-memory migrate --to-type` on a project: the template, rendered and
updated through Copier's Python API (`copier copy`, `copier update`), exactly as the `copier`
command would. Copier is the `setup` extra: a project's production install does not need it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import adopt, backends, catalog
from .settings import CheckpointError, Settings, answers_file, load_settings

BUNDLED = Path(__file__).parent / "template"  # in a wheel: the template it was built with
CONNECT_TIMEOUT = 3.0  # seconds: setup only says whether the server answers


def template_source() -> tuple[str, str | None]:
    """(source, ref) of the template this package was installed from: its git repository at
    the installed commit, the checkout of an editable install, or the copy in the wheel."""
    try:
        direct = metadata.distribution("lg-memory").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    info: dict[str, Any] = json.loads(direct) if direct else {}
    url = str(info.get("url", ""))
    vcs = info.get("vcs_info") or {}
    if vcs.get("vcs") == "git":
        return url.removeprefix("git+").removeprefix("file://"), vcs.get("commit_id")
    folders = [Path(__file__).resolve().parents[2]]  # running from a source tree
    if url.startswith("file://"):
        folders.insert(0, Path(unquote(urlsplit(url).path)))
    for folder in folders:
        if (folder / "copier.yml").is_file() and (commit := _git(folder, "rev-parse", "HEAD")):
            # Its last commit, not the working tree: the project will install lg-memory from
            # that commit, and a dirty tree's changes are in no commit.
            return str(folder), commit.strip()
    if (BUNDLED / "copier.yml").is_file():
        return str(BUNDLED), None
    raise CheckpointError("cannot find lg-memory's template: pass --template SRC")


def _copier() -> Any:
    try:
        import copier
    except ImportError:
        raise CheckpointError(
            "setup renders the template with Copier, which is not installed: "
            "pip install 'lg-memory[setup]'"
        ) from None
    return copier


def answers_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The template's answers given as flags (a preset fixes type, async and ttl)."""
    data: dict[str, Any] = {}
    if args.preset:
        data["preset"] = args.preset
        fixed = catalog.PRESETS[args.preset]
        flags = (("type", "type"), ("async_", "async"), ("ttl", "ttl"),
                 ("connection_string", "connection_string"))  # fmt: skip
        for flag, key in flags:
            given = getattr(args, flag)
            if given is not None and key in fixed and given != fixed[key]:
                raise CheckpointError(
                    f"--preset {args.preset} sets {key} to {fixed[key]}: "
                    f"drop --{key.replace('_', '-')}, or give --type instead of the preset"
                )
    elif args.type or args.async_ is not None or args.ttl is not None:
        data["preset"] = "none"
    for flag, key in (
        ("type", "type"),
        ("connection_string", "connection_string"),
        ("async_", "async"),
        ("namespace", "namespace"),
        ("ttl", "ttl"),
    ):
        value = getattr(args, flag, None)
        if value is not None and not (args.preset and key in catalog.PRESETS[args.preset]):
            data[key] = str(value) if key == "ttl" else value
    for key, check in (
        ("namespace", catalog.namespace_error),
        ("ttl", catalog.ttl_error),
    ):
        if key in data and (problem := check(data[key])):
            raise CheckpointError(problem)
    if "connection_string" in data:
        kind = data.get("type") or catalog.preset_value(data.get("preset", "none"), "type")
        if problem := catalog.connection_error(kind, data["connection_string"]):
            raise CheckpointError(problem)
    return data


def run(args: argparse.Namespace) -> int:
    """`lg-memory setup`: render a new project, give memory to one that exists, or switch the
    backend of one set up before."""
    project = Path(args.project).resolve()
    data = answers_from_flags(args)
    if args.interrupt_before and not args.wire:
        raise CheckpointError("--interrupt-before goes with --wire FILE.py:VARIABLE")
    if answers_file(project) is not None:  # set up before: setup again switches the backend
        if args.wire and not data:
            return wire(project, args, clean=True)
        code = switch(project, data)
        return wire(project, args, clean=False) if args.wire and code == 0 else code
    try:
        existing = adopt.kind(project) == "existing"
    except adopt.Refusal as exc:
        raise CheckpointError(str(exc)) from None
    if args.wire and not existing:
        raise CheckpointError("--wire is for a project that exists: a new one is wired already")
    copier = _copier()
    source, ref = (args.template, None) if args.template else template_source()
    if existing:
        data["project_kind"] = "existing"
    else:
        data.setdefault("project_name", args.project_name or project.name)
    interactive = sys.stdin.isatty() and not args.yes
    kwargs = {"answers_file": adopt.ANSWERS_FILE} if existing else {}
    try:
        copier.run_copy(
            source,
            project,
            data=data,
            vcs_ref=ref,
            defaults=not interactive,
            unsafe=True,
            quiet=not interactive,
            **kwargs,
        )
    except subprocess.CalledProcessError as exc:  # the edits of an existing project said why
        raise CheckpointError(
            f"setup could not extend the project's files (exit {exc.returncode})"
        ) from None
    settings = load_settings(project=project)
    print(f"set up {project}: {settings.label} checkpointer ({settings.redacted or 'in process'})")
    if existing:
        report(project, args)
    print(connectivity(settings, project))
    return 0


def report(project: Path, args: argparse.Namespace) -> None:
    """What setup changed in an existing project, and the compile calls it left alone."""
    changed = _git(project, "status", "--porcelain", "--untracked-files=all") or ""
    print("changed (review with git diff): " + ", ".join(line[3:] for line in changed.splitlines()))
    if args.wire:
        wire(project, args, clean=False)
        return
    info = adopt.inspect(project, git=False, check=False)
    async_ = load_settings(project=project).async_
    for site in adopt.compile_sites(project):
        if adopt.served(project, info, site):
            continue
        if async_:
            print(
                f"\n{site.spec(project)} compiles its graph without a checkpointer: compile it "
                f"inside `async with aopen_checkpointer() as checkpointer:` (from "
                f"{info.memory_module}; see docs/memory.md)."
            )
            continue
        _, _, diff = adopt.wire(project, info, site.spec(project), [])
        print(
            f"\n{site.spec(project)} compiles its graph without a checkpointer. To give it this "
            f"project's, run `lg-memory setup --wire {site.spec(project)}` (after committing), "
            f"which makes this change:\n{diff}"
        )


def wire(project: Path, args: argparse.Namespace, *, clean: bool) -> int:
    """`--wire FILE.py:VARIABLE`: that module-level compile() gets the checkpointer."""
    if load_settings(project=project).async_:
        raise CheckpointError(
            "--wire gives a graph the sync checkpointer, and this project's is async: compile "
            "inside `async with aopen_checkpointer() as checkpointer:` (see docs/memory.md)"
        )
    try:
        if clean:
            adopt.require_clean_git(project)
        info = adopt.inspect(project, git=False, check=False)
        path, text, diff = adopt.wire(project, info, args.wire, args.interrupt_before or [])
    except adopt.Refusal as exc:
        raise CheckpointError(str(exc)) from None
    path.write_text(text, encoding="utf-8")
    print(
        f"wired {args.wire}:\n{diff}\nWith a checkpointer, every call now needs a thread_id in "
        'its config: {"configurable": {"thread_id": "..."}} (one per conversation).'
    )
    return 0


def switch(project: Path, data: dict[str, Any]) -> int:
    """`copier update` with new answers: the files switch, and the template's migration moves
    the checkpoints (it runs the project's `lg-memory migrate`)."""
    copier = _copier()
    dirty = _git(project, "status", "--porcelain")
    if dirty is None:
        raise CheckpointError(f"{project} is not a git repository: switching needs `git init`")
    if dirty.strip():
        raise CheckpointError(f"{project} has uncommitted changes: commit or stash them first")
    before = load_settings(project=project)
    # The template is the one the project's answers name (`_src_path`): Copier's update takes
    # no other; `--template` only chooses where a new project comes from.
    kwargs: dict[str, Any] = {}
    if (path := answers_file(project)) is not None and path.name != ".copier-answers.yml":
        kwargs["answers_file"] = path.name
    try:
        copier.run_update(
            project,
            data=data,
            defaults=True,
            overwrite=True,
            skip_answered=True,
            unsafe=True,
            quiet=True,
            **kwargs,
        )
    except subprocess.CalledProcessError as exc:  # the migration said what went wrong
        from . import migrate

        plan = migrate.pending(project)
        if plan is not None and plan.blocked:  # it can never finish: no --resume to offer
            raise CheckpointError(
                f"the project's files switched, but its checkpoints cannot move (exit "
                f"{exc.returncode}): {plan.way_back()}"
            ) from None
        raise CheckpointError(
            f"the project's files switched, but its checkpoints did not move (exit {exc.returncode}"
            "): fix the cause above, then run `lg-memory migrate --resume`; or "
            + (plan.way_back() if plan else "`lg-memory migrate --abort` switches it back")
        ) from None
    after = load_settings(project=project)
    print(f"switched {project}: {before.label} -> {after.label} ({after.redacted or 'in process'})")
    return 0


def connectivity(settings: Settings, project: Path) -> str:
    """The seed's "test database connectivity": a warning, not a failure, when it fails."""
    if settings.type == "memory":
        return "in-memory checkpointer: nothing to connect to"
    check = f"lg-memory check --project {project}"
    try:
        backend = backends.load(settings.type)
    except CheckpointError as exc:  # this tool lacks the driver; the project has it
        return f"not tested: {exc}; or run `{check}` from the project's environment"
    try:
        with backend.open_saver(replace(settings, connect_timeout=CONNECT_TIMEOUT)) as saver:
            found = backend.stats(saver, settings)
    except Exception as exc:  # any failure: setup is done, the server may come later
        text = str(exc) if isinstance(exc, CheckpointError) else describe(exc)
        return f"warning: {settings.hide_secrets(text)}; start it, then run `{check}`"
    return (
        f"connected: {settings.label} answers, storage initialised "
        f"({found.threads} threads, {found.checkpoints} checkpoints)"
    )


def describe(exc: BaseException) -> str:
    return backends.describe_error(exc) or f"{type(exc).__name__}: {exc}".splitlines()[0]


def _git(cwd: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None
