"""`migrate` SQLite -> PostgreSQL, this checkout against an older one, paired: both move the
same store into the same PostgreSQL server, one right after the other, N times, each first in
turn. Prints every pair, the medians, and old / new.

    uv run python bench/ab_migrate.py --baseline-repo DIR [--threads 10000] [--pairs 5]

run.py's `--baseline-repo` runs each version's whole benchmark on servers of its own, minutes
apart: on a shared machine, what else runs in those minutes (the host, PostgreSQL's autovacuum
after the previous step's bulk load) moves one side's figures by 10 to 20 %. Here the two moves
of a pair are seconds apart, on one server that is idle before each (a CHECKPOINT, then a
pause), so the machine's drift cancels out of each pair's ratio.

DIR is a checkout from before the package (the engine rendered into each project, as ab6b388):
it is rendered with Copier into a project whose venv holds its `lg-memory`, as run.py's
`--baseline-repo` does, and that command is run in the project with the stores' variables.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from subprocess import DEVNULL

import psycopg
from run import WORKER, compile_bytecode, environment, lg_command, services

MOVE = ["--from-type", "sqlite", "--from-namespace", "default", "--to-type", "postgres",
        "--namespace"]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--baseline-repo", type=Path, required=True)
    p.add_argument("--threads", type=int, default=10_000)
    p.add_argument("--pairs", type=int, default=5)
    opts = p.parse_args()
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="lg-memory-ab-"))
    server = services.start_postgres(work / "server-postgres")
    try:
        env = environment()
        old = render(opts.baseline_repo.resolve(), work)
        store = work / "store.db"
        subprocess.run(
            [sys.executable, str(WORKER), "build_sqlite", str(store), str(opts.threads)],
            env=env, check=True,
        )  # fmt: skip
        new_home = work / "new"
        new_home.mkdir()
        times: dict[str, list[float]] = {"old": [], "new": []}
        for n in range(opts.pairs):
            for side in ("old", "new") if n % 2 == 0 else ("new", "old"):
                quiet(server.url)
                namespace = f"ab_{uuid.uuid4().hex[:8]}"
                started = time.perf_counter()
                if side == "old":  # the stores from the project's variables
                    command = [str(old / ".venv/bin/lg-memory"), "migrate", *MOVE, namespace]
                    env_ = {**env, "CHECKPOINT_DB_PATH": str(store), "POSTGRES_URL": server.url}
                    subprocess.run(command, cwd=old, env=env_, check=True, stdout=DEVNULL)
                else:
                    flags = ["--project", str(new_home), "--from-connection-string", str(store),
                             "--connection-string", server.url]  # fmt: skip
                    command = [*lg_command(), "migrate", *flags, *MOVE, namespace]
                    subprocess.run(command, cwd=new_home, env=env, check=True, stdout=DEVNULL)
                times[side].append(time.perf_counter() - started)
                for backups in (old / "lg-memory-backups", new_home / "lg-memory-backups"):
                    shutil.rmtree(backups, ignore_errors=True)
            print(f"pair {n + 1}: old {times['old'][-1]:.2f} s, new {times['new'][-1]:.2f} s, "
                  f"old / new {times['old'][-1] / times['new'][-1]:.2f}", flush=True)  # fmt: skip
        old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
        ratios = [o / n for o, n in zip(times["old"], times["new"], strict=True)]
        print(f"{opts.threads} threads, medians of {opts.pairs} pairs: old {old_s:.2f} s, "
              f"new {new_s:.2f} s; old / new of the medians {old_s / new_s:.2f}, median of "
              f"the pairs' {statistics.median(ratios):.2f} (from {min(ratios):.2f} to "
              f"{max(ratios):.2f})")  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def render(repo: Path, work: Path) -> Path:
    """The older checkout's project, with its own venv (as run.py's baseline renders it)."""
    project = work / "old"
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "-q",
         "--data", "project_name=agent", str(repo), str(project)], check=True,
    )  # fmt: skip
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(project / ".venv")], check=True)
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(project / ".venv/bin/python"),
         "-e", f"{project}[postgres]"],
        check=True, env={**os.environ, "UV_COMPILE_BYTECODE": "1"},
    )  # fmt: skip
    return project


def quiet(url: str) -> None:
    """The server idle: the namespaces of earlier moves dropped, their pages written out."""
    with psycopg.connect(url, autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ab\\_%'"
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        conn.execute("CHECKPOINT")
    time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
