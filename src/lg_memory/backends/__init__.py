"""One module per backend, each a `Backend` (see base.py) named after its type."""

from __future__ import annotations

import importlib

from .. import catalog
from ..settings import CheckpointError
from .base import Backend, Saver

__all__ = ["Backend", "Saver", "load"]


def load(type: str) -> Backend:
    """The backend for `type`, or a clear error when its packages are not installed."""
    if type not in catalog.BACKENDS:
        raise CheckpointError(
            f"unknown memory type {type!r}: choose one of {', '.join(catalog.BACKENDS)}"
        )
    drivers = tuple(catalog.BACKENDS[type].get("drivers", ()))
    try:
        module = importlib.import_module(f".{type}", __name__)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not any(
            missing == d or d.startswith(f"{missing}.") or missing.startswith(f"{d}.")
            for d in drivers
        ):
            raise
        raise CheckpointError(
            f"{type} support is not installed ({missing} is missing): "
            f"pip install 'lg-memory[{type}]' (or uv add 'lg-memory[{type}]')"
        ) from None
    backend: Backend = module.BACKEND
    return backend
