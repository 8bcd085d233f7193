"""Benchmarks of `lg-memory` on real servers, against the naive public-API approaches,
measured in the same run on the same data. Prints a table; figures are also ratios.

    python bench/run.py [--threads 10000] [--backends sqlite,postgres,redis,mongodb] [--pairs]

A store of N threads of the example graph (about 10 checkpoints each, with pending writes)
is built in SQLite at N/10 and N threads, then exported, imported into every backend,
exported back, listed, summarised and migrated SQLite -> Postgres (with `--pairs`, also
between every other ordered pair of backends, at the sizes up to `--pairs-threads`). Each
operation is one process; its wall time and peak resident memory are reported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import services  # noqa: E402

URL_ENV = {"postgres": "POSTGRES_URL", "redis": "REDIS_URL", "mongodb": "MONGODB_URL"}
ROWS: list[tuple[str, ...]] = []


def popen_wait4(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(args)} failed:\n{err.read()[-3000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def row(*cells: object) -> None:
    ROWS.append(tuple(str(c) for c in cells))
    print(" | ".join(ROWS[-1]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres,redis,mongodb")
    parser.add_argument(
        "--pairs",
        action="store_true",
        help="migrate between every ordered pair of backends, not only SQLite -> Postgres",
    )
    parser.add_argument(
        "--pairs-threads",
        type=int,
        default=1_000,
        help="the other pairs are migrated at sizes up to this many threads",
    )
    parser.add_argument(
        "--mongodb-threads",
        type=int,
        default=1_000,
        help="the MongoDB emulator is slow: its store is capped at this size",
    )
    opts = parser.parse_args()
    chosen = opts.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="lg-memory-bench-"))
    started = [services.STARTERS[b](work / b) for b in chosen if b in URL_ENV]
    urls = {b: s.url for b, s in zip([b for b in chosen if b in URL_ENV], started, strict=True)}
    try:
        project = render(work)
        python = str(project / ".venv/bin/python")
        lg = str(project / ".venv/bin/lg-memory")
        base = {k: v for k, v in os.environ.items() if k not in URL_ENV.values()}
        base |= {URL_ENV[b]: u for b, u in urls.items()}
        print("size | operation | backend | seconds | checkpoints/s | peak RSS MB | vs naive")
        for threads in (opts.threads // 10, opts.threads):
            run_size(threads, project, python, lg, base, chosen, opts)
    finally:
        for server in started:
            server.stop()


def render(work: Path) -> Path:
    project = work / "agent"
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "-q",
         "--data", "project_name=agent", str(REPO), str(project)], check=True,
    )  # fmt: skip
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(project / ".venv")], check=True)
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(project / ".venv/bin/python"),
         "-e", f"{project}[postgres,redis,mongodb]"], check=True,
    )  # fmt: skip
    return project


def run_size(
    threads: int, project: Path, python: str, lg: str, base: dict[str, str],
    chosen: list[str], opts: argparse.Namespace,
) -> None:  # fmt: skip
    mongodb_threads, pairs, pairs_threads = opts.mongodb_threads, opts.pairs, opts.pairs_threads
    inproject = str(REPO / "bench/inproject.py")
    db = project / f"store-{threads}.db"
    env = base | {"CHECKPOINT_DB_PATH": str(db)}
    popen_wait4([python, inproject, "build_sqlite", str(db), str(threads)], env, project)
    _, _, info = popen_wait4([lg, "info"], env, project)
    total = int(info.split("Total Checkpoints: ")[1].split()[0])
    label = f"{threads} threads / {total} cp"

    for op in ("info", "list"):
        name = "info" if op == "info" else "list --limit 20"
        cmd = [lg, *name.split()]
        t, m, _ = popen_wait4(cmd, env, project)
        warm = [float(popen_wait4([python, inproject, "timed", w, "sqlite"], env, project)[2])
                for w in (op, f"naive_{op}")]  # fmt: skip
        row(label, name, "sqlite", f"{t:.2f} (warm {warm[0]:.3f})", "", f"{m:.0f}",
            f"{warm[1] / warm[0]:.0f}x faster warm (naive {warm[1]:.3f} s)")  # fmt: skip

    export = project / f"export-{threads}.jsonl"
    t, m, _ = popen_wait4([lg, "export", "-o", str(export)], env, project)
    row(label, "export", "sqlite", f"{t:.1f}", f"{total / t:,.0f}", f"{m:.0f}", "")

    namespaces = {"sqlite": "default"}  # where each backend holds this store
    for backend in chosen:
        ns = f"bench_{uuid.uuid4().hex[:8]}"
        benv = env | {"CHECKPOINT_NAMESPACE": ns}
        source, count = export, total
        if backend == "mongodb" and threads > mongodb_threads:
            continue  # the emulator is slow: measured at the small size only
        t, m, _ = popen_wait4([lg, "import", str(source), "--type", backend], benv, project)
        row(label, "import", backend, f"{t:.1f}", f"{count / t:,.0f}", f"{m:.0f}", "")
        if backend != "sqlite":
            namespaces[backend] = ns
        back = project / f"back-{backend}-{threads}.jsonl"
        t, m, _ = popen_wait4([lg, "export", "--type", backend, "-o", str(back)], benv, project)
        row(label, "export", backend, f"{t:.1f}", f"{count / t:,.0f}", f"{m:.0f}", "")
        if backend != "sqlite":
            t, m, _ = popen_wait4([lg, "info", "--type", backend], benv, project)
            warm = [float(popen_wait4([python, inproject, "timed", w, backend], benv,
                                      project)[2]) for w in ("info", "naive_info")]  # fmt: skip
            row(label, "info", backend, f"{t:.2f} (warm {warm[0]:.3f})", "", f"{m:.0f}",
                f"{warm[1] / warm[0]:.0f}x faster warm (naive {warm[1]:.3f} s)")  # fmt: skip

    # Every ordered pair of the stores: the headline pair (SQLite -> Postgres) at every size,
    # the others where the source holds this size and `--pairs` asks for them.
    for source_type, source_ns in namespaces.items():
        for target in namespaces:
            pair = (source_type, target)
            if target == source_type or (pair != ("sqlite", "postgres") and not pairs):
                continue
            if pairs and threads > pairs_threads and pair != ("sqlite", "postgres"):
                continue
            migrate(label, total, project, python, lg, env, source_type, source_ns, target)


def migrate(
    label: str, total: int, project: Path, python: str, lg: str, env: dict[str, str],
    source: str, source_ns: str, target: str,
) -> None:  # fmt: skip
    """`lg-memory migrate` against the naive public-API loop, each into a new namespace."""
    ours = [lg, "migrate", "--from-type", source, "--from-namespace", source_ns,
            "--to-type", target, "--namespace", f"bench_{uuid.uuid4().hex[:8]}"]  # fmt: skip
    t, m, _ = popen_wait4(ours, env, project)
    naive = [python, str(REPO / "bench/inproject.py"), "naive_migrate", source, source_ns,
             target, f"bench_{uuid.uuid4().hex[:8]}"]  # fmt: skip
    tn, mn, out = popen_wait4(naive, env, project)
    moved = int(out.split()[1])  # "naive: N checkpoints in S s"
    short = "" if moved == total else f", moved only {moved}: list() stops at 10,000"
    row(label, f"migrate {source}->{target}", target, f"{t:.1f}", f"{total / t:,.0f}",
        f"{m:.0f}", f"{tn / t:.1f}x faster (naive {tn:.1f} s, {total / tn:,.0f} cp/s, "
        f"{mn:.0f} MB{short})")  # fmt: skip


if __name__ == "__main__":
    main()
