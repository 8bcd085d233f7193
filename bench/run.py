"""Benchmarks of `lg-memory` on real servers, against the naive public-API approaches,
measured in the same run on the same data. Prints a table; figures are also ratios.

    python bench/run.py [--threads 10000] [--backends sqlite,postgres,redis,mongodb] [--pairs]
    python bench/run.py --threads 10000 --baseline-repo /path/to/an/older/checkout

A store of N threads of the example graph (about 10 checkpoints each, with pending writes)
is built in SQLite at N/10 and N threads, then exported, imported into every backend,
exported back, listed, summarised and migrated SQLite -> Postgres (with `--pairs`, also
between every other ordered pair of backends, at the sizes up to `--pairs-threads`). Each
operation is one process; its wall time and peak resident memory are reported.

The package is measured as installed in the Python that runs this script (`uv run python
bench/run.py` in this repository): `lg-memory` runs as whole processes of that environment's
console script, with `--project`, `--type`, `--connection-string` and `--namespace`. The
store is built and the naive baselines run by bench/worker.py, which imports `lg_memory` and
the template's example graph (from its file; every worker process loads it first, as the
application whose loop the naive approach is would). Nothing is rendered. Every measured
process finds its imports compiled, as an install leaves them (whatever
PYTHONDONTWRITEBYTECODE says): this environment's are compiled first.

`--baseline-repo DIR` also runs DIR's own bench/run.py (an older checkout of this repository
with its own `.venv`, e.g. `git worktree add DIR <commit> && cd DIR && uv sync --group dev`)
with the same parameters, on fresh servers of its own, then prints both sets of figures side
by side: each operation's seconds, peak memory, checkpoints per second and ratio against the
naive approach (each measured within its own run), and new / old of that ratio (else of the
throughput). Its project is installed with UV_COMPILE_BYTECODE=1. `--rounds N` runs both
N times, alternately first, and compares the medians.

The two sides run minutes apart, each on servers of its own: for `migrate` alone,
bench/ab_migrate.py pairs the two versions on one server, seconds apart (less noise).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import services  # noqa: E402

WORKER = REPO / "bench/worker.py"
SERVERS = ("postgres", "redis", "mongodb")
# The stores' variables: taken out of the measured processes' environment, which name every
# store by its flags (the variables would otherwise fill in what a flag leaves out).
STORE_ENV = (
    "CHECKPOINT_DB_PATH", "POSTGRES_URL", "REDIS_URL", "MONGODB_URL", "MONGODB_DB",
    "CHECKPOINT_NAMESPACE", "CHECKPOINT_TTL", "CUSTOM_SAVER",
)  # fmt: skip
HEADER = "size | operation | backend | seconds | checkpoints/s | peak RSS MB | vs naive"
WORSE = 0.9  # new / old below this is flagged (runs of a second or less are noisier)
Row = tuple[str, ...]
ROWS: list[Row] = []


@dataclass(frozen=True)
class Store:
    """A store as `lg-memory` names it on its command line."""

    type: str
    connection: str  # the SQLite file, or the server's URL
    namespace: str = "default"

    def flags(self) -> list[str]:
        return ["--type", self.type, "--connection-string", self.connection,
                "--namespace", self.namespace]  # fmt: skip

    def args(self) -> list[str]:  # for bench/worker.py
        return [self.type, self.connection, self.namespace]

    def elsewhere(self) -> Store:
        """The same backend, in a new namespace of its own."""
        return Store(self.type, self.connection, f"bench_{uuid.uuid4().hex[:8]}")


@dataclass(frozen=True)
class Bench:
    """What every measured process needs: its programs, environment and directory."""

    work: Path  # the processes' working directory and `--project` (backups, exports)
    env: dict[str, str]
    python: list[str]  # runs bench/worker.py
    lg: list[str]  # `lg-memory`

    def lg_memory(self, *args: str) -> tuple[float, float, str]:
        return popen_wait4([*self.lg, args[0], "--project", str(self.work), *args[1:]], self)

    def worker(self, *args: str) -> tuple[float, float, str]:
        return popen_wait4([*self.python, str(WORKER), *args], self)


def popen_wait4(args: list[str], bench: Bench) -> tuple[float, float, str]:
    """Wall seconds, peak resident MB and stdout of one whole process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            args, cwd=bench.work, env=bench.env, stdout=out, stderr=err, text=True
        )
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


def parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(
        description=doc.split("\n\n", 1)[0].replace("\n", " "),
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--threads", type=int, default=10_000, help="the large size (default: 10000); "
        "the small one is a tenth of it",
    )  # fmt: skip
    p.add_argument(
        "--backends",
        default="sqlite,postgres,redis,mongodb",
        help="comma-separated, imported into in this order (default: all four)",
    )
    p.add_argument(
        "--pairs",
        action="store_true",
        help="migrate between every ordered pair of backends, not only SQLite -> Postgres",
    )
    p.add_argument(
        "--pairs-threads",
        type=int,
        default=1_000,
        help="the other pairs are migrated at sizes up to this many threads (default: 1000)",
    )
    p.add_argument(
        "--mongodb-threads",
        type=int,
        default=1_000,
        help="the MongoDB emulator is slow: its store is capped at this size (default: 1000)",
    )
    p.add_argument(
        "--baseline-repo",
        type=Path,
        metavar="DIR",
        help="also run DIR's bench/run.py (an older checkout, with DIR/.venv) with the same "
        "parameters, and print both runs' figures side by side",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="N",
        help="with --baseline-repo: run both N times, alternately first, and compare the "
        "medians (default: 1)",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the work directory (stores, exports, backups)"
    )
    return p


def main() -> None:
    opts = parser().parse_args()
    baseline = baseline_command(opts) if opts.baseline_repo else None
    check_package()
    compile_bytecode()
    if baseline is None:
        measure(opts)
        return
    repo: Path = opts.baseline_repo.resolve()
    news: list[list[Row]] = []
    olds: list[list[Row]] = []
    for n in range(1, opts.rounds + 1):
        of = f", round {n} of {opts.rounds}" if opts.rounds > 1 else ""
        # Alternately first and second (ABBA...): a machine slowing down favours neither.
        for ours in (True, False) if n % 2 else (False, True):
            print(f"\n== {'this checkout' if ours else 'baseline'} "
                  f"({describe(REPO if ours else repo)}{of}) ==", flush=True)  # fmt: skip
            if ours:
                news.append(measure(opts))
            else:
                olds.append(run_baseline(baseline, repo))
    side_by_side(olds, news)


def measure(opts: argparse.Namespace) -> list[Row]:
    """One run of this checkout's benchmark, on fresh servers: its table's rows."""
    ROWS.clear()
    chosen = opts.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="lg-memory-bench-"))
    on_servers = [b for b in chosen if b in SERVERS]
    started: list[services.Server] = []
    try:
        for backend in on_servers:
            started.append(services.STARTERS[backend](work / f"server-{backend}"))
        urls = {b: s.url for b, s in zip(on_servers, started, strict=True)}
        bench = Bench(work, environment(), [sys.executable], lg_command())
        print(HEADER, flush=True)
        for threads in (opts.threads // 10, opts.threads):
            run_size(threads, bench, urls, chosen, opts)
    finally:
        for server in started:
            server.stop()
        if opts.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return list(ROWS)


def check_package() -> None:
    """The `lg_memory` measured is this checkout's (installed editable), not another one."""
    import lg_memory

    where = Path(lg_memory.__file__).resolve()
    if not where.is_relative_to(REPO / "src"):
        raise SystemExit(
            f"{sys.executable} imports lg_memory from {where}, not from {REPO / 'src'}: "
            "run this with the repository's environment (uv run python bench/run.py)"
        )


def environment() -> dict[str, str]:
    """The measured processes' environment: this one, less the stores' variables, and with
    bytecode caches written (PYTHONDONTWRITEBYTECODE would make each process compile its
    imports again, a second or so that an installed package does not spend)."""
    drop = {*STORE_ENV, "PYTHONDONTWRITEBYTECODE"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def compile_bytecode() -> None:
    """Bytecode for everything the measured processes may import, as an install leaves it
    (the older checkout's bench gets the same: see run_baseline). Quick once it is there."""
    paths = {sysconfig.get_paths()[p] for p in ("purelib", "platlib")} | {str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *sorted(paths)],
        env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    if done.returncode:  # a file that does not compile (a test fixture...): noted, not fatal
        print("compileall: some files did not compile", file=sys.stderr)


def lg_command() -> list[str]:
    """The console script beside this Python, as a user runs it (else `python -m lg_memory`)."""
    script = Path(sys.executable).with_name("lg-memory")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lg_memory"]


def run_size(
    threads: int, bench: Bench, urls: dict[str, str], chosen: list[str],
    opts: argparse.Namespace,
) -> None:  # fmt: skip
    mongodb_threads, pairs, pairs_threads = opts.mongodb_threads, opts.pairs, opts.pairs_threads
    db = Store("sqlite", str(bench.work / f"store-{threads}.db"))
    bench.worker("build_sqlite", db.connection, str(threads))
    _, _, info = bench.lg_memory("info", *db.flags())
    total = int(info.split("Total Checkpoints: ")[1].split()[0])
    label = f"{threads} threads / {total} cp"

    for op in ("info", "list"):
        name = "info" if op == "info" else "list --limit 20"
        t, m, _ = bench.lg_memory(*name.split(), *db.flags())
        warm = [float(bench.worker("timed", w, *db.args())[2]) for w in (op, f"naive_{op}")]
        row(label, name, "sqlite", f"{t:.2f} (warm {warm[0]:.3f})", "", f"{m:.0f}",
            f"{warm[1] / warm[0]:.0f}x faster warm (naive {warm[1]:.3f} s)")  # fmt: skip

    export = bench.work / f"export-{threads}.jsonl"
    t, m, _ = bench.lg_memory("export", *db.flags(), "-o", str(export))
    row(label, "export", "sqlite", f"{t:.1f}", f"{total / t:,.0f}", f"{m:.0f}", "")

    stores = {"sqlite": db}  # where each backend holds this store
    for backend in chosen:
        if backend == "mongodb" and threads > mongodb_threads:
            continue  # the emulator is slow: measured at the small size only
        copy = (db if backend == "sqlite" else Store(backend, urls[backend])).elsewhere()
        t, m, _ = bench.lg_memory("import", str(export), *copy.flags())
        row(label, "import", backend, f"{t:.1f}", f"{total / t:,.0f}", f"{m:.0f}", "")
        if backend != "sqlite":
            stores[backend] = copy
        back = bench.work / f"back-{backend}-{threads}.jsonl"
        t, m, _ = bench.lg_memory("export", *copy.flags(), "-o", str(back))
        row(label, "export", backend, f"{t:.1f}", f"{total / t:,.0f}", f"{m:.0f}", "")
        if backend != "sqlite":
            t, m, _ = bench.lg_memory("info", *copy.flags())
            warm = [float(bench.worker("timed", w, *copy.args())[2])
                    for w in ("info", "naive_info")]  # fmt: skip
            row(label, "info", backend, f"{t:.2f} (warm {warm[0]:.3f})", "", f"{m:.0f}",
                f"{warm[1] / warm[0]:.0f}x faster warm (naive {warm[1]:.3f} s)")  # fmt: skip

    # Every ordered pair of the stores: the headline pair (SQLite -> Postgres) at every size,
    # the others where the source holds this size and `--pairs` asks for them.
    for source_type, source in stores.items():
        for target_type, target in stores.items():
            pair = (source_type, target_type)
            if target_type == source_type or (pair != ("sqlite", "postgres") and not pairs):
                continue
            if pairs and threads > pairs_threads and pair != ("sqlite", "postgres"):
                continue
            migrate(label, total, bench, source, target)


def migrate(label: str, total: int, bench: Bench, source: Store, target: Store) -> None:
    """`lg-memory migrate` against the naive public-API loop, each into a new namespace."""
    ours, naive = target.elsewhere(), target.elsewhere()
    t, m, _ = bench.lg_memory(
        "migrate", "--from-type", source.type, "--from-connection-string", source.connection,
        "--from-namespace", source.namespace, "--to-type", ours.type, *ours.flags(),
    )  # fmt: skip
    tn, mn, out = bench.worker("naive_migrate", *source.args(), *naive.args())
    moved = int(out.split()[1])  # "naive: N checkpoints in S s"
    short = "" if moved == total else f", moved only {moved}: list() stops at 10,000"
    row(label, f"migrate {source.type}->{target.type}", target.type, f"{t:.1f}",
        f"{total / t:,.0f}", f"{m:.0f}", f"{tn / t:.1f}x faster (naive {tn:.1f} s, "
        f"{total / tn:,.0f} cp/s, {mn:.0f} MB{short})")  # fmt: skip


# ---- against an older checkout -----------------------------------------------------------


def baseline_command(opts: argparse.Namespace) -> list[str]:
    """The older checkout's own bench, with these parameters (checked before anything runs)."""
    repo: Path = opts.baseline_repo.resolve()
    python, script = repo / ".venv/bin/python", repo / "bench/run.py"
    for needed in (python, script):
        if not needed.exists():
            raise SystemExit(f"--baseline-repo: no {needed} (run `uv sync --group dev` there)")
    command = [str(python), str(script), "--threads", str(opts.threads),
               "--backends", opts.backends, "--pairs-threads", str(opts.pairs_threads),
               "--mongodb-threads", str(opts.mongodb_threads)]  # fmt: skip
    return command + (["--pairs"] if opts.pairs else [])


def describe(repo: Path) -> str:
    """`path, commit` (and `+ changes` for a work tree that differs from it)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "not a git checkout"
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{repo}, {commit}{dirty}"


def run_baseline(command: list[str], repo: Path) -> list[Row]:
    """Runs the older bench (its own renders, venv and servers); its table rows, as printed."""
    rows: list[Row] = []
    # Its own Python, not the one of this repository's environment (`uv run` exports it);
    # its project's venv installed with bytecode, as compile_bytecode() leaves this one.
    env = {k: v for k, v in environment().items() if k != "VIRTUAL_ENV"}
    env["UV_COMPILE_BYTECODE"] = "1"
    # It leaves its work directory (a rendered project, its venv, stores, exports, backups:
    # gigabytes at 10,000 threads) in the temporary directory: removed here once it is done.
    before = set(Path(tempfile.gettempdir()).glob("lg-memory-bench-*"))
    try:
        with subprocess.Popen(
            command, cwd=repo, env=env, stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                if " | " in line and line.strip() != HEADER:
                    rows.append(tuple(line.rstrip("\n").split(" | ")))
    finally:
        for left in set(Path(tempfile.gettempdir()).glob("lg-memory-bench-*")) - before:
            if (left / "agent").is_dir():  # its render: not another run's directory
                shutil.rmtree(left, ignore_errors=True)
    if proc.returncode:
        raise SystemExit(f"the baseline bench failed ({proc.returncode}): {' '.join(command)}")
    return rows


@dataclass(frozen=True)
class Figures:
    """One row of the table, read back (or the median of several runs' rows)."""

    seconds: float  # the whole process
    warm: float | None  # the operation alone, in a warm process (info, list)
    peak_mb: float
    throughput: float | None  # checkpoints per second
    vs_naive: float | None  # how many times faster than the naive approach, in the same run

    @classmethod
    def parse(cls, cells: Row) -> Figures:
        seconds, throughput, peak, versus = cells[3], cells[4], cells[5], cells[6]
        ratio = None
        if match := re.match(r"([\d.]+)x faster", versus):
            ratio = float(match[1])
        warm = re.search(r"warm ([\d.]+)", seconds)
        naive = re.search(r"naive ([\d.]+) s", versus)
        if warm and naive and float(warm[1]) > 0:  # the printed ratio is rounded to 1x
            ratio = float(naive[1]) / float(warm[1])
        return cls(
            seconds=float(seconds.split()[0]),
            warm=float(warm[1]) if warm else None,
            peak_mb=float(peak),
            throughput=float(throughput.replace(",", "")) if throughput else None,
            vs_naive=ratio,
        )

    @classmethod
    def median(cls, runs: list[Figures]) -> Figures:
        def middle(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return statistics.median(known) if known else None

        return cls(
            seconds=statistics.median(f.seconds for f in runs),
            warm=middle([f.warm for f in runs]),
            peak_mb=statistics.median(f.peak_mb for f in runs),
            throughput=middle([f.throughput for f in runs]),
            vs_naive=middle([f.vs_naive for f in runs]),
        )

    def shown_seconds(self) -> str:
        if self.warm is None:
            return f"{self.seconds:.1f}"
        return f"{self.seconds:.2f} (warm {self.warm:.3f})"


def side_by_side(old: list[list[Row]], new: list[list[Row]]) -> None:
    """Each operation's figures, old / new (medians, with several rounds); the last column
    is new / old of the ratio against the naive approach (else of the throughput): below 1
    is worse."""
    olds, news = gathered(old), gathered(new)
    rounds = f", medians of {len(new)} rounds" if len(new) > 1 else ""
    print(f"\n== side by side: old (the baseline) / new (this checkout){rounds} ==")
    print("threads | operation | backend | seconds | peak RSS MB | checkpoints/s | "
          "vs naive | new / old")  # fmt: skip
    worse = []
    for key in [*news, *(k for k in olds if k not in news)]:
        figures = [Figures.median(runs[key]) if key in runs else None for runs in (olds, news)]

        def pair(show: Callable[[Figures], str]) -> str:
            return " / ".join(show(f) if f else "-" for f in figures)  # noqa: B023

        change, a, b = "", *figures
        relative = compared(a, b)
        if relative is not None:
            what = "vs naive" if a and a.vs_naive else "checkpoints/s"
            change = f"{relative:.2f}x ({what})"
            if relative < WORSE:
                change += " WORSE"
                worse.append(f"{key[1]} {key[2]} at {key[0]} threads")
        print(" | ".join([
            key[0], key[1], key[2],
            pair(Figures.shown_seconds),
            pair(lambda f: f"{f.peak_mb:.0f}"),
            pair(lambda f: f"{f.throughput:,.0f}" if f.throughput else ""),
            pair(lambda f: f"{f.vs_naive:.1f}x" if f.vs_naive else ""),
            change,
        ]))  # fmt: skip
    if worse:
        print(f"\nnew / old below {WORSE}: {'; '.join(worse)}")
    else:
        print(f"\nno operation below {WORSE} of the baseline (new / old)")


Key = tuple[str, str, str, int]


def gathered(runs: list[list[Row]]) -> dict[Key, list[Figures]]:
    """Each operation's figures in every run, in the order of the first run."""
    found: dict[Key, list[Figures]] = {}
    for rows in runs:
        for key, cells in keyed(rows).items():
            found.setdefault(key, []).append(Figures.parse(cells))
    return found


def keyed(rows: list[Row]) -> dict[Key, Row]:
    """Rows by threads, operation, backend and occurrence (SQLite's export comes twice)."""
    seen: Counter[tuple[str, str, str]] = Counter()
    found = {}
    for cells in rows:
        key = (cells[0].split()[0], cells[1], cells[2])
        seen[key] += 1
        found[(*key, seen[key])] = cells
    return found


def compared(old: Figures | None, new: Figures | None) -> float | None:
    """new / old of the ratio against the naive approach, else of the throughput."""
    if old is None or new is None:
        return None
    if old.vs_naive and new.vs_naive:
        return new.vs_naive / old.vs_naive
    if old.throughput and new.throughput:
        return new.throughput / old.throughput
    return None


if __name__ == "__main__":
    main()
