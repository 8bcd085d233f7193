"""Copier's side of an existing project (`src/lg_memory/adopt.py`, loaded by its path).

As a Jinja extension, it gives the questions their defaults for a folder that holds a project
already (`project_kind`, `existing`: its package and tests folder) and renders the handoff:
what the edits put in, computed from the answers. A refusal (not a LangGraph project, a dirty
tree, a file it cannot parse) stops Copier with one line, before anything is written.

As a script, run by Copier in the project after a copy (a task) and by switch_backend.py after
an update, it extends the project's own files in place from that handoff.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context


def _load(name: str, path: Path) -> Any:
    """The module at `path`, executed afresh: Copier loads this extension once per template
    clone (an update makes several), so nothing may come from an earlier, deleted clone."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


backends = _load("lg_memory_template_backends", Path(__file__).resolve().with_name("backends.py"))
BACKENDS, catalog = backends.BACKENDS, backends.catalog
adopt = _load("lg_memory_adopt", backends.PACKAGE / "adopt.py")


def _refuse(exc: Exception) -> Exception:
    try:
        from copier.errors import UserMessageError
    except ImportError:  # pragma: no cover  (always there under Copier)
        return exc
    return UserMessageError(str(exc))


def project_kind(dst: str) -> str:
    try:
        return str(adopt.kind(dst))
    except adopt.Refusal as exc:
        raise _refuse(exc) from None


def existing(dst: str) -> Any:
    """The project at `dst` (its package_name, package_dir, tests_dir, name)."""
    try:
        return adopt.inspect(Path(dst), git=False)
    except adopt.Refusal as exc:
        raise _refuse(exc) from None


@pass_context
def adopt_handoff(ctx: Context) -> str:
    """What `apply` puts into the project's files, as JSON (it holds the connection string:
    the file lives in the gitignored .lg-memory/ only until `apply` reads it)."""
    type_, ttl = ctx["type"], ctx["ttl"]
    source = (ctx["_copier_answers"]["_src_path"], ctx["_copier_conf"]["vcs_ref_hash"])
    module = f"{ctx['package_name']}.memory"
    connection = str(ctx.get("connection_string") or BACKENDS[type_]["default"])
    ignore = [".env", ".lg-memory/", "lg-memory-backups/", ".langgraph_api/"]
    if BACKENDS[type_]["schemes"] is None and connection and not Path(connection).is_absolute():
        local = "/" + connection.removeprefix("./").rstrip("/")
        # SQLite: the file, its -wal and -shm, and each namespace's (checkpoints.<ns>.db)
        stem, _, suffix = local.rpartition(".")
        sqlite = f"{stem}*.{suffix}*" if stem else f"{local}*"
        ignore += [f"{local}/"] if type_ == "custom" else [sqlite]
    data = {
        "requirement": backends.lg_memory_requirement(
            type_ if BACKENDS[type_]["packages"] else "", *source
        ),
        "requirement_any": backends.lg_memory_requirement("{extras}", *source),
        "checkpointer": catalog.server_checkpointer(module, type_, ttl),
        "env": catalog.env_values(type_, connection, ttl),
        "env_default": catalog.env_values(type_, BACKENDS[type_]["default"], ttl),
        "env_example": catalog.env_example(type_, ttl, ctx["namespace"]),
        "ignore": ignore,
    }
    return json.dumps(data, indent=2)


@pass_context
def adopt_handoff_name(ctx: Context) -> str:
    """Named after its content: Copier does not render again a file the project deleted since
    the last render, and a handoff that did not change has nothing new to apply."""
    if ctx.get("project_kind") != "existing":
        return ""
    digest = hashlib.sha256(adopt_handoff(ctx).encode()).hexdigest()[:12]
    return f"adopt.{digest}.json"


class AdoptExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals.update(
            project_kind=project_kind,
            existing=existing,
            adopt_handoff=adopt_handoff,
            adopt_handoff_name=adopt_handoff_name,
        )


def apply(root: Path) -> dict[str, Any] | None:
    """Extend the project's files from the handoff (then deleted); the handoff, or None."""
    folder = root / ".lg-memory"
    handoffs = sorted(folder.glob("adopt.*.json"), key=lambda p: p.stat().st_mtime)
    if not handoffs:
        return None
    data: dict[str, Any] = json.loads(handoffs[-1].read_text())
    for path in handoffs:  # it holds the connection string: gone before anything can fail
        path.unlink()
    project = adopt.inspect(root, git=False, check=False)
    wanted = adopt.Wanted(
        requirement=data["requirement"],
        checkpointer=data["checkpointer"],
        env=data["env"],
        env_default=data["env_default"],
        env_example=data["env_example"],
        ignore=data["ignore"],
    )
    changed = adopt.edits(project, wanted)
    adopt.write(root, changed)
    if changed:
        print("lg-memory extended: " + ", ".join(changed), file=sys.stderr)
    return data


if __name__ == "__main__":
    try:
        apply(Path.cwd())
    except adopt.Refusal as exc:
        print(f"lg-memory: {exc}", file=sys.stderr)
        sys.exit(1)
