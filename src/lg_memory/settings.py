"""Where the checkpoints live: a project's answers, overridden by the environment and by flags.

A project set up by lg-memory records its answers (type, async, namespace, ttl) in its Copier
answers file, and its connection strings in `.env`. `load_settings(project=DIR)` reads both, so
that `lg-memory --project DIR` works from anywhere; the project's own wiring module passes its
answers directly (`load_settings(answers=Answers(...))`), so a deployed app needs neither file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import yaml
from dotenv import dotenv_values

from . import catalog

DEFAULT_NAMESPACE = "default"
# Copier answers files lg-memory writes: its own (beside another template's), or the project's.
ANSWERS_FILES = (".copier-answers.lg-memory.yml", ".copier-answers.yml")


class CheckpointError(Exception):
    """A problem the user can fix; the CLI prints it as one line."""


@dataclass(frozen=True)
class Answers:
    """What a project was set up with: the questions of `lg-memory setup`."""

    type: str = "sqlite"
    async_: bool = False
    namespace: str = DEFAULT_NAMESPACE
    ttl: int = 0  # seconds, 0 = keep forever
    package: str | None = None  # the project's package: its classes are its own state's


@dataclass(frozen=True)
class Settings:
    type: str
    connection_string: str
    async_: bool = False
    namespace: str = DEFAULT_NAMESPACE
    ttl: int = 0  # seconds, 0 = keep forever
    mongodb_db: str = "langgraph"
    connect_timeout: float = 10.0  # seconds to wait for a server before giving up
    package: str | None = None
    project: Path | None = None  # where backups and a pending move are kept (default: cwd)
    custom_saver: str | None = None  # `module:Class` of a custom saver

    @property
    def label(self) -> str:
        return str(catalog.BACKENDS[self.type]["label"])

    @property
    def redacted(self) -> str:
        """The connection string without its password: safe to print or log."""
        return redact(self.connection_string)

    def hide_secrets(self, text: str) -> str:
        """`text` with this connection string redacted, and its password nowhere."""
        if not self.connection_string or self.redacted == self.connection_string:
            return text
        text = text.replace(self.connection_string, self.redacted)
        for secret in secrets(self.connection_string):
            text = text.replace(secret, "***")
        return text

    @property
    def home(self) -> Path:
        return self.project if self.project is not None else Path.cwd()


def load_settings(
    type: str | None = None,
    connection_string: str | None = None,
    namespace: str | None = None,
    *,
    answers: Answers | None = None,
    project: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings from the arguments, else the environment (and `.env`), else the answers.

    With `project`, the answers and `.env` are that project's, and relative file paths are
    resolved against it; without it, `.env` is read from the working directory.
    """
    root = Path(project).resolve() if project is not None else None
    if answers is None:
        answers = read_answers(root) if root is not None else Answers()
    env = _environment((root or Path.cwd()) / ".env")
    type = type or answers.type
    if type not in catalog.BACKENDS:
        choices = ", ".join(catalog.BACKENDS)
        raise CheckpointError(f"unknown memory type {type!r}: choose one of {choices}")
    backend = catalog.BACKENDS[type]
    if connection_string is None:
        variable = backend["env"]
        connection_string = (env.get(variable) if variable else None) or backend["default"]
    if root is not None and backend["schemes"] is None and connection_string:
        connection_string = str(root / Path(connection_string).expanduser())
    namespace = namespace or env.get("CHECKPOINT_NAMESPACE") or answers.namespace
    if problem := catalog.namespace_error(namespace):
        raise CheckpointError(problem)
    ttl_text = env.get(backend.get("ttl_env", "CHECKPOINT_TTL"))
    try:
        ttl = int(ttl_text) if ttl_text else answers.ttl
        timeout = float(env.get("CHECKPOINT_CONNECT_TIMEOUT") or 10)
    except ValueError:
        raise CheckpointError(f"TTL must be whole seconds, got {ttl_text!r}") from None
    package = answers.package
    custom = env.get("CUSTOM_SAVER") or (
        f"{package}.saver:FileCheckpointSaver" if package else None
    )
    return Settings(
        type=type,
        connection_string=connection_string,
        async_=answers.async_,
        namespace=namespace,
        ttl=ttl,
        mongodb_db=env.get("MONGODB_DB") or "langgraph",
        connect_timeout=timeout,
        package=package,
        project=root,
        custom_saver=custom,
    )


def _environment(env_file: Path) -> dict[str, str]:
    """The process environment over the variables of `env_file` (which is not loaded into it)."""
    found = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**found, **os.environ}


def answers_file(project: Path) -> Path | None:
    """The project's lg-memory answers file, if it has one (a Copier answers file of another
    template is not)."""
    for name in ANSWERS_FILES:
        path = project / name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "preset" in data and "package_name" in data:
            return path
    return None


def read_answers(project: Path) -> Answers:
    """The answers a project was set up with; the defaults for a directory that has none."""
    path = answers_file(project)
    if path is None:
        return Answers()
    try:
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    preset = str(data.get("preset") or "none")
    try:
        return Answers(
            type=str(data.get("type") or catalog.preset_value(preset, "type")),
            async_=bool(data.get("async", catalog.preset_value(preset, "async"))),
            namespace=str(data.get("namespace") or DEFAULT_NAMESPACE),
            ttl=int(data.get("ttl", catalog.preset_value(preset, "ttl")) or 0),
            package=str(data["package_name"]) if data.get("package_name") else None,
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} holds an answer lg-memory cannot read: {exc}") from None


_SECRET_KEYS = re.compile(r"(password|passwd|pwd|secret|token|sslpassword)", re.IGNORECASE)
_KEYWORD_SECRET = re.compile(
    r"""\b(password|passwd|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)""", re.IGNORECASE
)


def redact(url: str) -> str:
    """A connection string with every password in it replaced by `***`.

    `postgresql://me:secret@host/db` -> `postgresql://me:***@host/db`; a password in the query
    (`?password=...`) or in a libpq keyword string (`host=h password=...`) too. Userinfo runs
    to the last `@`, so a password holding an unencoded `#`, `/` or `?` is hidden whole. A URL
    whose host cannot be parsed is not shown at all.
    """
    if "://" not in url:
        if "=" in url:  # libpq keywords: host=h user=u password=...
            return _KEYWORD_SECRET.sub(lambda m: f"{m[1]}=***", url)
        return url  # a file path
    scheme, rest = url.split("://", 1)
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        userinfo = f"{user}:***@" if has_password else f"{user}@"
    else:
        userinfo = ""
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        parts.port  # noqa: B018  (raises on a malformed host or port)
    except ValueError:
        return f"{scheme}://<a connection string that cannot be parsed>"
    query = parts.query
    if query and _SECRET_KEYS.search(query):
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_KEYS.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=userinfo + parts.netloc, query=query))


def secrets(url: str) -> list[str]:
    """The passwords in a connection string, as written and decoded (longest first)."""
    found: list[str] = []
    if "://" in url:
        rest = url.split("://", 1)[1]
        if "@" in rest:
            password = rest.rsplit("@", 1)[0].partition(":")[2]
            found.append(password)
        query = url.split("?", 1)[1] if "?" in url else ""
        found += [v for k, v in parse_qsl(query) if _SECRET_KEYS.search(k)]
    else:
        found += [m[2].strip("'") for m in _KEYWORD_SECRET.finditer(url)]
    found += [unquote(s) for s in found]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)
