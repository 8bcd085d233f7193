"""After `copier update`: move the checkpoints when the backend or the namespace changed.

Run by Copier (its own interpreter, which has no LangGraph) as an unversioned `after`
migration, in the updated project. It

1. stops with the names of the files when the update left merge conflicts;
2. compares the answers of the last commit (`git show HEAD:.copier-answers.yml`) with the new
   ones; nothing more to do when the backend and the namespace are the same;
3. adds the new backend's variable to `.env` (keeping every other line), from the gitignored
   `.lg-memory/connection.env` that the template renders with the new connection string;
4. installs the project with the old backend's extra into `.venv` and runs the project's own
   `lg-memory migrate`, which backs up, imports, verifies and reports. When that cannot run or
   fails, the move is left pending and the message says what to run to finish it.
"""

from __future__ import annotations

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


def main() -> int:
    connection = take_connection_line()
    conflicts = conflicted_files()
    if conflicts:
        fail(
            "the update left merge conflicts in: " + ", ".join(conflicts) + ". Resolve them "
            "(search for '<<<<<<<'), commit, then run `lg-memory migrate --resume` if the "
            "backend changed."
        )
        write_plan(*old_and_new())  # the data has not moved either
        return 1
    old, new = old_and_new()
    if old is None or old == new:
        return 0
    (old_type, old_ns), (new_type, new_ns) = old, new
    merge_env(new_type, connection)
    if old_type == "memory":
        say(f"switched from memory to {new_type}: an in-memory store has nothing to move")
        return 0
    if new_type == "memory":
        say(f"switched to memory: the {old_type} checkpoints stay where they are")
        return 0
    old_saver = keep_custom_saver() if old_type == "custom" else None
    write_plan(old, new, old_saver)
    lg_memory = project_command(old_type)
    finish = "lg-memory migrate --resume"
    if lg_memory is None:
        fail(
            f"the checkpoints of {old_type} are not moved yet: no .venv and no uv to make one. "
            f"Install the project (pip install -e '.[{old_type}]'), then run: {finish}"
        )
        return 1
    say(f"moving the checkpoints: {old_type} ({old_ns}) -> {new_type} ({new_ns})")
    done = subprocess.run(
        [*lg_memory, "migrate", "--resume"],
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        fail(
            f"the project now uses {new_type}, but its checkpoints have not moved yet (see the "
            f"error above); the {old_type} store is untouched. Fix the cause, then run: {finish}"
        )
        return 1
    return 0


def conflicted_files() -> list[str]:
    unmerged = git("diff", "--name-only", "--diff-filter=U").split()
    marked = git("grep", "-l", "-e", "^<<<<<<< before updating", "--", ".").split()
    return sorted(set(unmerged) | set(marked))


def old_and_new() -> tuple[tuple[str, str] | None, tuple[str, str]]:
    new = where(yaml.safe_load(Path(".copier-answers.yml").read_text()))
    committed = git("show", "HEAD:.copier-answers.yml")
    old = where(yaml.safe_load(committed)) if committed else None
    return old, new


def where(answers: dict[str, Any]) -> tuple[str, str]:
    """(type, namespace): where the answers keep the checkpoints."""
    preset = str(answers.get("preset", "none"))
    type_ = answers.get("type") or preset_value(preset, "type")
    return str(type_), str(answers.get("namespace") or "default")


def take_connection_line() -> str:
    """The new backend's `.env` line, rendered by this update for this step only: a second
    copy of a secret does not outlive it."""
    rendered = Path(".lg-memory/connection.env")
    line = rendered.read_text().strip() if rendered.is_file() else ""
    rendered.unlink(missing_ok=True)
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
    old: tuple[str, str] | None, new: tuple[str, str], old_saver: str | None = None
) -> None:
    if old is None or old == new or "memory" in (old[0], new[0]) or MARKER.is_file():
        return
    MARKER.parent.mkdir(exist_ok=True)
    (MARKER.parent / ".gitignore").write_text("*\n")
    plan = {"from_type": old[0], "from_namespace": old[1], "to_type": new[0],
            "to_namespace": new[1], "backup": None, "from_custom_saver": old_saver}  # fmt: skip
    MARKER.write_text(json.dumps(plan, indent=2) + "\n")


def keep_custom_saver() -> str | None:
    """The custom saver of the last commit, which the update removed: the old store can only
    be read with it. Kept in .lg-memory/ (gitignored) until the move is done."""
    package = yaml.safe_load(Path(".copier-answers.yml").read_text()).get("package_name")
    committed = git("show", f"HEAD:src/{package}/saver.py")
    if not committed or Path(f"src/{package}/saver.py").is_file():
        return None  # still there, or never rendered: CUSTOM_SAVER says where it is
    kept = MARKER.parent / "custom_saver.py"
    kept.parent.mkdir(exist_ok=True)
    kept.write_text(committed)
    return f"{kept}:FileCheckpointSaver"


def project_command(old_type: str) -> list[str] | None:
    """`lg-memory` of the project's .venv, installed with the old backend's packages too."""
    venv = Path(".venv")
    python = venv / "bin" / "python"
    extras = ",".join(["dev", *([old_type] if BACKENDS[old_type]["packages"] else [])])
    uv = shutil.which("uv")
    if uv:
        if not python.exists():
            run([uv, "venv", "-q", str(venv)])
        ok = run([uv, "pip", "install", "-q", "-p", str(python), "-e", f".[{extras}]"])
    elif python.exists():
        ok = run([str(python), "-m", "pip", "install", "-q", "-e", f".[{extras}]"])
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
