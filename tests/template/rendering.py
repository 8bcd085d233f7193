"""Rendering the template with Copier, and installing what it renders into real venvs.

A rendered project depends on lg-memory at the template's commit (a `git+file://` reference),
so the template is rendered from a snapshot of this working tree committed in a git
repository of its own, tagged v0.1.0 (Copier runs migrations between tagged versions only).
The snapshot's path and commit depend only on the files' contents: every test worker renders
from the same one, and uv builds lg-memory from it once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from copier import run_copy

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "extensions"))
import backends as catalogue  # noqa: E402  (the template's view of the catalogue)

__all__ = [
    "LG_MEMORY", "REPO", "TEMPLATE", "catalogue", "git", "install", "langgraph_dev", "lg",
    "render", "run",
]  # fmt: skip

LG_MEMORY = str(Path(sys.executable).parent / "lg-memory")  # the dev environment's command

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def snapshot() -> Path:
    """This working tree (tracked and new files, as git sees them) committed and tagged v0.1.0."""
    listed = git(REPO, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    files = sorted(n for n in listed if n and (REPO / n).is_file())
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    final = Path(tempfile.gettempdir()) / f"lg-memory-template-{digest.hexdigest()[:16]}"
    if (final / ".git" / "refs" / "tags" / "v0.1.0").exists():
        return final
    building = Path(tempfile.mkdtemp(prefix="lg-memory-template-"))
    for name in files:
        (building / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, building / name)
    git(building, "init", "-q", "-b", "main")
    git(building, "add", "-A")
    git(building, "commit", "-qm", "template")
    git(building, "tag", "v0.1.0")
    try:
        building.rename(final)  # atomic: another worker may have won the race
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return final


TEMPLATE = snapshot()


def render(dst: Path, template: Path = TEMPLATE, **data: Any) -> Path:
    """`copier copy --trust --defaults --data ...` of the template, through Copier's API."""
    run_copy(
        str(template), dst, data=data, defaults=True, unsafe=True, quiet=True, vcs_ref="v0.1.0"
    )
    return dst


def install(project: Path, *extras: str) -> Path:
    """A fresh virtual environment with the project installed; returns its python."""
    venv = project / ".venv"
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    spec = f"{project}[{','.join(('dev', *extras))}]"
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(python), "-e", spec], check=True, cwd=project
    )
    return python


def run(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def lg(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The dev environment's `lg-memory`, run without a terminal."""
    result = subprocess.run(
        [LG_MEMORY, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@contextmanager
def langgraph_dev(
    python: Path, project: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`langgraph dev` of the project's venv on a free port, its output in `log`: its URL
    once it listens; stopped on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with log.open("w") as out:
        server = subprocess.Popen(
            [python.parent / "langgraph", "dev", "--port", str(port), "--no-browser",
             "--no-reload"],
            cwd=project, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while True:
                assert server.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, f"not listening: {log.read_text()[-3000:]}"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(30)
