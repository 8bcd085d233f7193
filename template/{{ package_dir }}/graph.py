"""The example agent: agent -> tools -> human_review -> finalize.

Deterministic (no LLM, no network), so the checkpoint tests can assert exact states.
It stops before `human_review` until someone approves or rejects the draft.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph


class State(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    draft: str
    approved: bool


def agent(state: State) -> dict[str, Any]:
    request = state["messages"][-1]
    return {"messages": [f"agent: looking up {request!r}"]}


def tools(state: State) -> dict[str, Any]:
    request = state["messages"][-2]
    draft = f"{request} ({len(request.split())} words, {len(state['messages'])} messages so far)"
    return {"draft": draft, "messages": [f"tools: drafted {draft!r}"]}


def human_review(state: State) -> dict[str, Any]:
    verdict = "approved" if state.get("approved") else "rejected"
    return {"messages": [f"human_review: {verdict}"]}


def finalize(state: State) -> dict[str, Any]:
    if state.get("approved"):
        return {"messages": [f"finalize: {state['draft']}"]}
    return {"messages": ["finalize: nothing sent"]}


def build_graph() -> StateGraph[State]:
    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_node("human_review", human_review)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "agent")
    graph.add_edge("agent", "tools")
    graph.add_edge("tools", "human_review")
    graph.add_edge("human_review", "finalize")
    graph.add_edge("finalize", END)
    return graph


def compile_graph(checkpointer: BaseCheckpointSaver[Any] | None) -> CompiledStateGraph[State]:
    """The graph with its checkpointer, pausing before every human review."""
    return build_graph().compile(checkpointer=checkpointer, interrupt_before=["human_review"])
