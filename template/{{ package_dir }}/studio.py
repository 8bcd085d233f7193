"""The graph that `langgraph dev` and LangGraph Studio load (see langgraph.json).

Compiled without a checkpointer: the LangGraph server attaches its own.
"""

from .graph import build_graph

graph = build_graph().compile(interrupt_before=["human_review"])
