"""`lg-memory migrate` between every ordered pair of persistent backends: the target holds the
source's export byte for byte, and the paused thread resumes there as it would have at home.
(`copier update` drives the same move in tests/template/test_switch.py.)"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from example_agent.graph import compile_graph

from lg_memory import Settings, backends, open_checkpointer
from lg_memory.cli import main as lg_memory
from lg_memory.transfer import export_records, import_checkpoints

from helpers import Fresh, comparable, run_example

PERSISTENT = ["sqlite", "postgres", "redis", "mongodb", "custom"]
PAIRS = [(a, b) for a in PERSISTENT for b in PERSISTENT if a != b]


def export(settings: Settings) -> bytes:
    """The store as `lg-memory export` writes it (through the backend's own reading)."""
    out = io.BytesIO()
    with open_checkpointer(settings) as saver:
        export_records(backends.load(settings.type).records(saver, None), out, source={})
    return out.getvalue()


def resume(settings: Settings, paused: dict) -> list[str]:  # type: ignore[type-arg]
    with open_checkpointer(settings) as saver:
        app = compile_graph(saver)
        assert app.get_state(paused).next == ("human_review",)
        app.update_state(paused, {"approved": True})
        messages: list[str] = app.invoke(None, paused)["messages"]
        assert app.get_state(paused).next == ()
        return messages


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_every_checkpoint_moves_between_every_pair(
    a: str, b: str, fresh: Fresh, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".copier-answers.yml").write_text("preset: none\npackage_name: example_agent\n")
    source, target, control = fresh(a), fresh(b), fresh(a)
    with open_checkpointer(source) as saver:
        threads = run_example(saver)
    before = export(source)

    code = lg_memory([
        "migrate", "--project", str(tmp_path),
        "--from-type", a, "--from-connection-string", source.connection_string,
        "--from-namespace", source.namespace,
        "--to-type", b, "--connection-string", target.connection_string,
        "--namespace", target.namespace,
    ])  # fmt: skip

    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("migrated 3 threads, ") and "verified" in out
    assert comparable(export(target)) == comparable(before)
    assert comparable(export(source)) == comparable(before)  # the source is untouched
    # The paused thread ends on B exactly as a copy of the store ends on A.
    with open_checkpointer(control) as saver:
        backup = next((tmp_path / "lg-memory-backups").glob("*.jsonl"))
        import_checkpoints(saver, backup, trusted=True)
    assert resume(target, threads["paused"]) == resume(control, threads["paused"])
