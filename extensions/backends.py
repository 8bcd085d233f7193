"""Copier's view of the backend catalogue (`src/lg_memory/catalog.py`, loaded by its path).

Loaded through `copier-template-extensions`: templates see `backends`, `presets`, the
validators and the filters below. Copier's own interpreter need not have lg-memory installed.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

ROOT = Path(__file__).resolve().parents[1]
# the package's modules: beside the template in a checkout, around it in an installed wheel
PACKAGE = ROOT / "src/lg_memory" if (ROOT / "src/lg_memory").is_dir() else ROOT.parent
_spec = importlib.util.spec_from_file_location("lg_memory_catalog", PACKAGE / "catalog.py")
assert _spec is not None and _spec.loader is not None
catalog = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = catalog
_spec.loader.exec_module(catalog)

BACKENDS = catalog.BACKENDS
preset_value = catalog.preset_value


def lg_memory_source(src_path: str, commit: str | None) -> str:
    """A PEP 508 direct reference to this template's own lg-memory package at the commit the
    project is rendered from, which pip and uv both install (offline, from a local clone)."""
    if src_path.startswith("gh:"):
        url = f"git+https://github.com/{src_path[3:].removesuffix('.git')}.git"
    elif src_path.startswith("gl:"):
        url = f"git+https://gitlab.com/{src_path[3:].removesuffix('.git')}.git"
    elif "://" in src_path or src_path.startswith("git@"):
        url = src_path if src_path.startswith("git+") else f"git+{src_path}"
    else:
        url = f"git+{Path(src_path).expanduser().resolve().as_uri()}"
    return f"{url}@{commit}" if commit else url


def lg_memory_requirement(extras: str, src_path: str, commit: str | None) -> str:
    """lg-memory from the template's git source at `commit`; from a template that is no git
    checkout (the copy inside an installed package), the release it came with."""
    name = f"lg-memory[{extras}]" if extras else "lg-memory"
    if not commit:
        return f"{name}=={version()}" if version() else name
    return f"{name} @ {lg_memory_source(src_path, commit)}"


def version() -> str | None:
    try:
        return metadata.version("lg-memory")
    except metadata.PackageNotFoundError:
        return None


class BackendsExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        globals_: dict[str, Any] = dict(
            backends=BACKENDS,
            presets=catalog.PRESETS,
            langgraph_requirement=catalog.LANGGRAPH,
            preset_value=preset_value,
            connection_error=catalog.connection_error,
            namespace_error=catalog.namespace_error,
            ttl_error=catalog.ttl_error,
            lg_memory_requirement=lg_memory_requirement,
            env_values=catalog.env_values,
            env_example=catalog.env_example,
            server_checkpointer=catalog.server_checkpointer,
        )
        environment.globals.update(globals_)
        environment.filters.update(package_name=catalog.package_name, dist_name=catalog.dist_name)
