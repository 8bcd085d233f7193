"""A tour of durable memory: threads, human-in-the-loop, time travel and streaming.

Run it with `python -m <package>` (async code path when the project was rendered async).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from langchain_core.runnables import RunnableConfig

from .graph import compile_graph
from .memory import aopen_checkpointer, open_checkpointer, settings


def thread(name: str) -> RunnableConfig:
    # A fresh id per run, so that every run of the demo starts new conversations.
    return {"configurable": {"thread_id": f"{name}-{uuid.uuid4().hex[:8]}"}}


def run() -> None:
    found = settings()
    print(f"Checkpointer: {found.label} ({found.redacted or 'in process'})")
    with open_checkpointer(found) as checkpointer:
        app = compile_graph(checkpointer)

        print("\n1. Thread-based conversations: each thread keeps its own state")
        alice, bob = thread("alice"), thread("bob")
        app.invoke({"messages": ["Book a table for two"]}, alice)
        app.invoke({"messages": ["Find a flight to Oslo"]}, bob)
        for config in (alice, bob):
            state = app.get_state(config)
            print(f"   {config['configurable']['thread_id']}: {state.values['messages'][0]!r}")

        print("\n2. Human-in-the-loop: the run stopped before human_review")
        state = app.get_state(alice)
        print(f"   next: {state.next}, draft: {state.values['draft']!r}")
        app.update_state(alice, {"approved": True})
        app.invoke(None, alice)
        print(f"   resumed: {app.get_state(alice).values['messages'][-1]!r}")

        print("\n3. Time travel: replay the thread from an earlier checkpoint")
        history = list(app.get_state_history(alice))
        print(f"   {len(history)} checkpoints on {alice['configurable']['thread_id']}")
        # The oldest pause, before the human said anything; fork it with another answer.
        before_review = next(s for s in reversed(history) if s.next == ("human_review",))
        fork = app.update_state(before_review.config, {"approved": False})
        replayed = app.invoke(None, fork)
        print(f"   replayed with approved=False: {replayed['messages'][-1]!r}")

        print("\n4. Streaming: every step is checkpointed as it happens")
        carol = thread("carol")
        for chunk in app.stream({"messages": ["Plan a trip"]}, carol, stream_mode="values"):
            print(f"   {chunk['messages'][-1]!r}")
        print(f"   paused at: {app.get_state(carol).next}")


async def arun() -> None:
    found = settings()
    print(f"Checkpointer: {found.label}, async ({found.redacted or 'in process'})")
    async with aopen_checkpointer(found) as checkpointer:
        app = compile_graph(checkpointer)
        config = thread("async")
        await app.ainvoke({"messages": ["Book a table for two"]}, config)
        state = await app.aget_state(config)
        print(f"   paused before: {state.next}")
        await app.aupdate_state(config, {"approved": True})
        chunks: list[dict[str, Any]] = [
            chunk async for chunk in app.astream(None, config, stream_mode="values")
        ]
        print(f"   resumed: {chunks[-1]['messages'][-1]!r}")
        history = [s async for s in app.aget_state_history(config)]
        print(f"   {len(history)} checkpoints on {config['configurable']['thread_id']}")


def main() -> None:
    if settings().async_:
        asyncio.run(arun())
    else:
        run()
