"""Channel versions converted, on import, to the kind the target saver produces.

LangGraph's savers number versions with strings, except MongoDBSaver, which like LangGraph's base
class uses integers (this project's MongoDB backend subclasses it to write strings, so its
exports match the others'). LangGraph compares versions of one checkpoint with each other, so
they must all have the kind the target saver produces. When the kinds differ (a file from a plain
MongoDBSaver, or a target that counts with integers), an import converts them: a string to its
integer counter; an integer `n` to "<n>.<fraction>", where the fraction of a channel version is
derived from the value (integer versions repeat across forks of a thread, and Postgres stores one
blob per version) and the fraction of a version a node has seen is "9", above any fraction of the
same counter.
"""

from __future__ import annotations

import hashlib
import json
from itertools import chain

from .format import Json
from .values import Typed


def align_versions(checkpoint: Json, kind: type) -> Json:
    """The checkpoint with its versions of the kind (str or int) the target saver produces."""
    versions = checkpoint["channel_versions"]
    seen = checkpoint["versions_seen"]
    # One saver numbered all the versions of a checkpoint: the first tells their kind.
    first = next(iter(versions.values()), None)
    if first is None:
        first = next(chain.from_iterable(node.values() for node in seen.values()), None)
    if kind not in (str, int) or first is None or isinstance(first, kind):
        return checkpoint
    if kind is int:
        return {
            **checkpoint,
            "channel_versions": {ch: _counter(v) for ch, v in versions.items()},
            "versions_seen": {n: {ch: _counter(v) for ch, v in s.items()} for n, s in seen.items()},
        }
    values = checkpoint["channel_values"]
    return {
        **checkpoint,
        "channel_versions": {
            ch: _as_str(v, _fraction(ch, values.get(ch))) for ch, v in versions.items()
        },
        "versions_seen": {n: {ch: _as_str(v, "9") for ch, v in s.items()} for n, s in seen.items()},
    }


def _counter(version: str | int | float) -> int:
    return int(version.split(".")[0]) if isinstance(version, str) else int(version)


def _as_str(version: str | int | float, fraction: str) -> str:
    return version if isinstance(version, str) else f"{int(version):032}.{fraction}"


def _fraction(channel: str, typed: Typed | None) -> str:
    """A fraction in the savers' format, the same for the same value of a channel."""
    digest = hashlib.sha256(json.dumps([channel, typed]).encode()).digest()
    return f"0.{int.from_bytes(digest[:8], 'big') % 10**16:016d}"
