"""One module per backend, each with the same small interface:

- `open_saver(settings)`: a context manager yielding a ready sync saver (storage set up);
- `aopen_saver(settings)`: the same for async code.

and, where the backend can do better than LangGraph's public saver API, optional native
operations used by `lg-memory` (see ../store.py): `stats`, `threads`, `iter_store`,
`iter_records` and `load_records` (export records read and written without decoding values),
`delete_checkpoint`, `keep_last` and `vacuum`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..settings import CheckpointError

# The backends whose packages are an optional extra of the project (named after them).
_EXTRAS = {"sqlite", "postgres", "redis", "mongodb"}


def load(type: str) -> ModuleType:
    """The backend module for `type`, or a clear error when its packages are missing."""
    try:
        return importlib.import_module(f".{type}", __name__)
    except ModuleNotFoundError as exc:
        if type not in _EXTRAS or not (exc.name or "").startswith(
            ("langgraph", "psycopg", "redis", "pymongo", "aiosqlite")
        ):
            raise
        raise CheckpointError(
            f"{type} support is not installed ({exc.name} is missing): "
            f"pip install -e '.[{type}]' (or uv sync --extra {type})"
        ) from None
