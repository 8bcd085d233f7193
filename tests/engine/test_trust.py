"""Which classes an import rebuilds (issue 11, item 5): those the project's own serializer
allows are trusted by default, `--trust MODULE` adds a module, and a class of a script or
notebook (`__main__`) is refused with what to do."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from lg_memory import open_checkpointer
from lg_memory.cli import main as lg_memory

from helpers import Fresh

TICKETS = """
import dataclasses

@dataclasses.dataclass
class Ticket:
    title: str
"""
ALLOWING_SAVER = """
from example_agent.saver import FileCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer


class AllowingSaver(FileCheckpointSaver):
    def __init__(self, root, *, namespace="default"):
        allowed = JsonPlusSerializer(allowed_msgpack_modules=[("ticketing", "Ticket")])
        super().__init__(root, namespace=namespace, serde=allowed)
"""


def store_a_ticket(settings: object, ticket: object) -> None:
    class State(TypedDict):
        ticket: object

    graph = StateGraph(State)
    graph.add_node("keep", lambda s: {"ticket": s["ticket"]})
    graph.add_edge(START, "keep")
    with open_checkpointer(settings) as saver:  # type: ignore[arg-type]
        graph.compile(checkpointer=saver).invoke(
            {"ticket": ticket}, {"configurable": {"thread_id": "t"}}
        )


def test_the_classes_the_projects_serializer_allows_are_trusted(
    fresh: Fresh,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "ticketing.py").write_text(TICKETS)
    (tmp_path / "allowing_saver.py").write_text(ALLOWING_SAVER)
    monkeypatch.syspath_prepend(str(tmp_path))
    import ticketing  # type: ignore[import-not-found]

    source = fresh("sqlite")
    store_a_ticket(source, ticketing.Ticket("printer"))
    export = tmp_path / "export.jsonl"
    common = ["--project", str(tmp_path)]
    source_flags = ["--type", "sqlite", "--connection-string", source.connection_string,
                    "--namespace", source.namespace]  # fmt: skip
    assert lg_memory(["export", "-o", str(export), *source_flags, *common]) == 0
    plain = ["--type", "custom", "--connection-string", str(tmp_path / "plain"), *common]
    monkeypatch.setenv("CUSTOM_SAVER", "example_agent.saver:FileCheckpointSaver")
    capsys.readouterr()
    assert lg_memory(["import", str(export), *plain]) == 1
    refused = capsys.readouterr().err
    assert "ticketing.Ticket is not a trusted type" in refused
    assert "add --trust ticketing" in refused

    monkeypatch.setenv("CUSTOM_SAVER", "allowing_saver:AllowingSaver")
    allowing = ["--type", "custom", "--connection-string", str(tmp_path / "allowing"), *common]
    assert lg_memory(["import", str(export), *allowing]) == 0, capsys.readouterr().err

    monkeypatch.setenv("CUSTOM_SAVER", "example_agent.saver:FileCheckpointSaver")
    assert lg_memory(["import", str(export), "--trust", "ticketing", *plain]) == 0


@dataclasses.dataclass
class Note:
    text: str


def test_a_class_of_a_script_is_refused_with_what_to_do(
    fresh: Fresh,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(Note, "__module__", "__main__")
    monkeypatch.setitem(sys.modules["__main__"].__dict__, "Note", Note)
    source, target = fresh("sqlite"), fresh("sqlite")
    store_a_ticket(source, Note("from a notebook"))
    export = tmp_path / "export.jsonl"
    flags = ["--project", str(tmp_path), "--type", "sqlite"]
    assert lg_memory(["export", "-o", str(export), *flags, "--connection-string",
                      source.connection_string, "--namespace", source.namespace]) == 0  # fmt: skip
    capsys.readouterr()
    code = lg_memory(["import", str(export), *flags, "--connection-string",
                      target.connection_string, "--namespace", target.namespace,
                      "--trust", "__main__"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "__main__.Note was defined in a script or notebook" in err
    assert "Move the class into a module" in err
