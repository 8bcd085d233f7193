"""After `copier update`: move the checkpoints when the backend or the namespace changed.

Run by Copier (its own interpreter, which has no LangGraph) as an unversioned `after`
migration, in the updated project. It

1. stops with the names of the files when the update left merge conflicts;
2. compares the answers of the last commit (`git show HEAD:<answers file>`, the file given as
   the argument) with the new ones; nothing more to do when the backend and the namespace are
   the same;
3. adds the new backend's variable to `.env` (keeping every other line), from the gitignored
   `.lg-memory/connection.<type>.env` that an update renders with the new connection string;
   in an existing project that lg-memory set up, extends its files as setup did (adopt.py);
4. installs the project with the old backend's extra into `.venv` and runs the project's own
   `lg-memory migrate`, which backs up, imports, verifies and reports. When that cannot run or
   fails, the move is left pending and the message says what to run to finish it, or to go
   back: the plan records what the update changed (the commit it started from, each file it
   touched or created), so that `lg-memory migrate --abort` can restore exactly those files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from backends import BACKENDS, preset_value  # noqa: E402  (the template's catalogue)

MARKER = Path(".lg-memory") / "pending-migration.json"
ANSWERS = Path(sys.argv[1] if len(sys.argv) > 1 else ".copier-answers.yml")


def main() -> int:
    changed = switch_record()  # before this step changes anything
    connection = take_connection_line()
    existing = yaml.safe_load(ANSWERS.read_text()).get("project_kind") == "existing"
    handoff = None
    if existing:
        from adopt import adopt, apply

        try:
            handoff = apply(Path.cwd())  # the project's own files, as setup extended them
        except adopt.Refusal as exc:
            fail(f"{exc}; the update's other files are in place: review them with git diff")
            return 1
    conflicts = conflicted_files()
    if conflicts:
        old, new = old_and_new()
        back = (
            f" To go back to {old[0]} instead, run `lg-memory migrate --abort` (before committing)."
            if write_plan(old, new, switch=changed) and old is not None
            else ""
        )
        fail(
            "the update left merge conflicts in: " + ", ".join(conflicts) + ". Resolve them "
            "(search for '<<<<<<<'), commit, then run `lg-memory migrate --resume` if the "
            "backend changed." + back
        )
        return 1
    old, new = old_and_new()
    if old is None or old == new:
        return 0
    (old_type, old_ns), (new_type, new_ns) = old, new
    if not existing:
        merge_env(new_type, connection)
    if old_type == "memory":
        say(f"switched from memory to {new_type}: an in-memory store has nothing to move")
        return 0
    if new_type == "memory":
        say(f"switched to memory: the {old_type} checkpoints stay where they are")
        return 0
    old_saver = keep_custom_saver() if old_type == "custom" else None
    write_plan(old, new, old_saver, changed)
    lg_memory = project_command(old_type, handoff)
    finish = "lg-memory migrate --resume"
    back = f"to go back to {old_type} instead, run `lg-memory migrate --abort`"
    if lg_memory is None:
        fail(
            f"the checkpoints of {old_type} are not moved yet: no .venv and no uv to make one. "
            f"Install the project (pip install -e '.[{old_type}]'), then run: {finish}; or, "
            f"{back}"
        )
        return 1
    say(f"moving the checkpoints: {old_type} ({old_ns}) -> {new_type} ({new_ns})")
    done = subprocess.run(
        [*lg_memory, "migrate", "--resume"],
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        if blocked():  # the move can never finish: no --resume to offer
            fail(
                f"the project now uses {new_type}, but its checkpoints cannot move there (see "
                f"the error above); the {old_type} store is untouched. To go back to "
                f"{old_type}, run: lg-memory migrate --abort"
            )
        else:
            fail(
                f"the project now uses {new_type}, but its checkpoints have not moved yet (see "
                f"the error above); the {old_type} store is untouched. Fix the cause, then run: "
                f"{finish}; or, {back}"
            )
        return 1
    return 0


def conflicted_files() -> list[str]:
    unmerged = git("diff", "--name-only", "--diff-filter=U").split()
    marked = git("grep", "-l", "-e", "^<<<<<<< before updating", "--", ".").split()
    return sorted(set(unmerged) | set(marked))


def old_and_new() -> tuple[tuple[str, str] | None, tuple[str, str]]:
    new = where(yaml.safe_load(ANSWERS.read_text()))
    committed = git("show", f"HEAD:{ANSWERS.as_posix()}")
    old = where(yaml.safe_load(committed)) if committed else None
    return old, new


def where(answers: dict[str, Any]) -> tuple[str, str]:
    """(type, namespace): where the answers keep the checkpoints."""
    preset = str(answers.get("preset", "none"))
    type_ = answers.get("type") or preset_value(preset, "type")
    return str(type_), str(answers.get("namespace") or "default")


def take_connection_line() -> str:
    """The new backend's `.env` line, rendered by this update for this step only: a second
    copy of a secret does not outlive it. Named after the type, so that Copier, which does not
    regenerate a file the project deleted since the last render, renders it for a new type."""
    answers = yaml.safe_load(ANSWERS.read_text())
    new_type = where(answers)[0]
    line = ""
    for rendered in Path(".lg-memory").glob("connection.*.env"):
        if rendered.name == f"connection.{new_type}.env":
            line = rendered.read_text().strip()
        rendered.unlink()
    return line


def merge_env(new_type: str, line: str) -> None:
    """Add the new backend's line to .env; replace it only when a value was given."""
    if not line:
        return
    name, value = line.split("=", 1)
    env = Path(".env")
    lines = env.read_text().splitlines() if env.is_file() else []
    current = [i for i, text in enumerate(lines) if text.startswith(f"{name}=")]
    if not current:
        lines.append(line)
    elif value != BACKENDS[new_type]["default"]:  # given with --data connection_string=...
        lines[current[-1]] = line
    else:
        return
    env.write_text("\n".join(lines) + "\n")
    say(f".env: {name} set for {BACKENDS[new_type]['label']}")


def write_plan(
    old: tuple[str, str] | None,
    new: tuple[str, str],
    old_saver: str | None = None,
    switch: dict[str, Any] | None = None,
) -> bool:
    """Record the move (unless one is pending already); whether one is pending now."""
    if MARKER.is_file():
        return True
    if old is None or old == new or "memory" in (old[0], new[0]):
        return False
    MARKER.parent.mkdir(exist_ok=True)
    (MARKER.parent / ".gitignore").write_text("*\n")
    plan = {"from_type": old[0], "from_namespace": old[1], "to_type": new[0],
            "to_namespace": new[1], "backup": None, "from_custom_saver": old_saver,
            "switch": switch}  # fmt: skip
    MARKER.write_text(json.dumps(plan, indent=2) + "\n")
    return True


def blocked() -> bool:
    """Whether the pending move was found unable to ever finish."""
    try:
        return bool(json.loads(MARKER.read_text()).get("blocked"))
    except (OSError, ValueError, AttributeError):
        return False


def switch_record() -> dict[str, Any] | None:
    """What the update changed in the working tree (which was clean before it): the commit it
    started from, the sha256 of each file it touched (null: deleted), and those it created."""
    commit = git("rev-parse", "HEAD").strip()
    if not commit:
        return None
    entries = git("status", "--porcelain=v1", "-z", "--untracked-files=all").split("\0")
    files: dict[str, str | None] = {}
    created: list[str] = []
    entries.reverse()
    while entries:
        entry = entries.pop()
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # renamed or copied: the source path follows
            original = entries.pop() if entries else ""
            if code[0] == "R" and original:
                files[original] = None
            created.append(path)
        elif code == "??" or code[0] == "A":
            created.append(path)
        files[path] = digest(Path(path))
    return {"commit": commit, "files": files, "created": sorted(created)}


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def keep_custom_saver() -> str | None:
    """The custom saver of the last commit, which the update removed: the old store can only
    be read with it. Kept in .lg-memory/ (gitignored) until the move is done."""
    answers = yaml.safe_load(ANSWERS.read_text())
    folder = answers.get("package_dir") or f"src/{answers.get('package_name')}"
    committed = git("show", f"HEAD:{folder}/saver.py")
    if not committed or Path(f"{folder}/saver.py").is_file():
        return None  # still there, or never rendered: CUSTOM_SAVER says where it is
    kept = MARKER.parent / "custom_saver.py"
    kept.parent.mkdir(exist_ok=True)
    kept.write_text(committed)
    return f"{kept}:FileCheckpointSaver"


def project_command(old_type: str, handoff: dict[str, Any] | None) -> list[str] | None:
    """`lg-memory` of the project's .venv, installed with the old backend's packages too."""
    venv = Path(".venv")
    python = venv / "bin" / "python"
    old = [old_type] if BACKENDS[old_type]["packages"] else []
    if handoff is None:  # a project lg-memory rendered: its extras name the backends
        packages = ["-e", f".[{','.join(['dev', *old])}]"]
    else:  # an existing project: itself (now with the new backend's), and the old driver
        own = ["-r", "requirements.txt"] if not Path("pyproject.toml").is_file() else ["-e", "."]
        packages = [*own, handoff["requirement_any"].format(extras=",".join(["setup", *old]))]
    uv = shutil.which("uv")
    if uv:
        if not python.exists():
            run([uv, "venv", "-q", str(venv)])
        ok = run([uv, "pip", "install", "-q", "-p", str(python), *packages])
    elif python.exists():
        ok = run([str(python), "-m", "pip", "install", "-q", *packages])
    else:
        return None
    return [str(venv / "bin" / "lg-memory")] if ok else None


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def run(command: list[str]) -> bool:
    return subprocess.run(command, check=False).returncode == 0


def say(message: str) -> None:
    print(f"lg-memory: {message}", file=sys.stderr)


def fail(message: str) -> None:
    print(f"lg-memory: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.pop("VIRTUAL_ENV", None)  # Copier's own environment is not the project's
    sys.exit(main())
