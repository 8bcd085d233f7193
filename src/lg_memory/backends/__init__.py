"""One module per backend, each a `Backend` (see base.py) named after its type."""

from __future__ import annotations

import importlib
import sys

from .. import catalog
from ..settings import CheckpointError
from .base import Backend, Saver

__all__ = ["Backend", "Saver", "describe_error", "load"]


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


def describe_error(exc: BaseException) -> str | None:
    """A one-line message for a driver's error, from the backend it belongs to (among those
    this process has loaded), or None."""
    for type_ in catalog.BACKENDS:
        module = sys.modules.get(f"{__name__}.{type_}")
        if module is not None and (message := module.BACKEND.describe_error(exc)) is not None:
            found: str = message
            return found
    return None
