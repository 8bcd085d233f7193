"""Bad input gets one clear line and a non-zero exit, and nothing is written, created or lost
(issue 11, items 9 to 12)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from lg_memory import Settings, open_checkpointer

from helpers import CLI, fill, history, resealed

LG_MEMORY = str(Path(sys.executable).parent / "lg-memory")


def one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 1, err
    assert err.startswith(f"lg-memory: error: {expected}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.backends("sqlite", "postgres")
def test_a_value_with_bytes_beyond_its_object_is_refused(
    settings: Settings, cli: CLI, tmp_path: Path
) -> None:
    """The first byte of a value flipped to a one-byte integer, the checksum recomputed: it
    would decode to 126 and drop the rest of its bytes."""
    fill(settings)
    exported = tmp_path / "export.jsonl"
    assert cli("export", "-o", str(exported))[0] == 0
    header, *lines, trailer = exported.read_bytes().splitlines()
    record = json.loads(lines[-1])
    channel, (kind, data) = next(
        (ch, v) for ch, v in record["checkpoint"]["channel_values"].items() if v[0] == "msgpack"
    )
    raw = base64.b64decode(data)
    damaged = base64.b64encode(bytes([0x7E]) + raw[1:]).decode()
    record["checkpoint"]["channel_values"][channel] = [kind, damaged]
    crafted = tmp_path / "crafted.jsonl"
    crafted.write_bytes(
        resealed([header, *lines[:-1], json.dumps(record).encode()], json.loads(trailer))
    )
    assert cli("clear", "--yes")[0] == 0

    code, _, err = cli("import", str(crafted))

    one_line_error(code, err, "")
    assert "not one msgpack object" in err and "line" in err
    assert cli("info", "--json")[1] and json.loads(cli("info", "--json")[1])["threads"] == 0


@pytest.mark.backends("sqlite")
def test_pathological_files_are_refused_with_their_line(cli: CLI, tmp_path: Path) -> None:
    nested = tmp_path / "nested.jsonl"
    nested.write_text(
        '{"format": "lg-memory-export", "version": 1, "created_at": "x", "source": {}, '
        '"thread_id": null}\n' + "[" * 100_000 + "]" * 100_000 + "\n"
    )
    code, _, err = cli("import", str(nested))
    one_line_error(code, err, "")
    assert "nested.jsonl" in err and "line 2" in err

    long_line = tmp_path / "long.jsonl"
    with long_line.open("wb") as out:
        out.write(b'{"format": "lg-memory-export"')
        out.write(b" " * (65 * 2**20))
    code, _, err = cli("import", str(long_line))
    one_line_error(code, err, "long.jsonl, line 1: longer than 64 MiB")

    code, _, err = cli("import", str(tmp_path))
    one_line_error(code, err, f"cannot read {tmp_path}: is a directory")
    code, _, err = cli("export", "-o", str(tmp_path))
    one_line_error(code, err, f"cannot write {tmp_path}: is a directory")
    code, _, err = cli("import", str(tmp_path / "missing.jsonl"))
    one_line_error(code, err, "cannot read")


@pytest.mark.backends("sqlite")
def test_mistakes_create_no_files(cli: CLI, settings: Settings, tmp_path: Path) -> None:
    store = Path(settings.connection_string)
    missing = tmp_path / "nowhere.db"
    code, _, err = cli("migrate", "--from-type", "sqlite", "--from-connection-string",
                       str(missing), "--to-type", "sqlite")  # fmt: skip
    one_line_error(code, err, "checkpoint not found: no SQLite store")
    assert not missing.exists() and not (tmp_path / ".lg-memory/pending-migration.json").exists()
    code, _, err = cli("info", "--namespace", "bad ns!")
    one_line_error(code, err, "namespace 'bad ns!' cannot name a schema")
    assert not list(tmp_path.glob("*bad ns*"))
    code, _, err = cli("list")
    one_line_error(code, err, "checkpoint not found: no SQLite store")
    assert not store.exists()
    for args in (("list", "--limit", "-1"), ("list", "--thread-id", "")):
        with pytest.raises(SystemExit) as exit_:
            cli(*args)
        assert exit_.value.code == 2  # argparse: usage and the reason, nothing listed


@pytest.mark.backends("sqlite")
def test_a_terminated_export_leaves_no_partial_file(settings: Settings, tmp_path: Path) -> None:
    fill(settings)
    output = tmp_path / "backup.jsonl"
    partial = tmp_path / "backup.jsonl.partial"
    os.mkfifo(partial)  # the export blocks opening it, as a slow disk would hold it
    command = [LG_MEMORY, "export", "-o", str(output), "--project", str(tmp_path),
               "--type", "sqlite", "--connection-string", settings.connection_string,
               "--namespace", settings.namespace]  # fmt: skip
    running = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    time.sleep(2)  # importing LangGraph; then it waits on the file
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=30)
    assert running.returncode == 130 and "Traceback" not in err
    assert not partial.exists() and not output.exists()


@pytest.mark.backends("sqlite")
def test_a_closed_pipe_ends_quietly(settings: Settings, tmp_path: Path) -> None:
    for _ in range(30):
        fill(settings)
    common = ["--project", str(tmp_path), "--type", "sqlite", "--connection-string",
              settings.connection_string, "--namespace", settings.namespace]  # fmt: skip
    for command, head in (("list", "head -1"), ("export", "head -c 10")):
        shell = f"{LG_MEMORY} {command} {' '.join(common)} | {head} >/dev/null"
        done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                              text=True)  # fmt: skip
        assert done.stderr == "", done.stderr
        assert done.returncode in (0, 141)


class Booking(BaseModel):
    table: int


@pytest.mark.backends("sqlite")
def test_listing_and_moving_print_no_serializer_warnings(
    settings: Settings, cli: CLI, fresh: object
) -> None:
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    class State(TypedDict):
        booking: Booking

    graph = StateGraph(State)
    graph.add_node("book", lambda s: {"booking": Booking(table=s["booking"].table + 1)})
    graph.add_edge(START, "book")
    with open_checkpointer(settings) as saver:
        graph.compile(checkpointer=saver).invoke(
            {"booking": Booking(table=1)}, {"configurable": {"thread_id": "t"}}
        )
    code, out, err = cli("list")
    assert code == 0 and "Thread: t" in out
    assert "Deserializing" not in err
    assert history(settings, "t")
