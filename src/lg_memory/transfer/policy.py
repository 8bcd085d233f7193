"""The type policy: which classes the values of an import may name, decided without building
a single object.

An import checks every value before it writes anything. It walks each msgpack value without
building objects and refuses a value naming any type outside: LangGraph's built-in safe list
(datetime, UUID, sets, LangChain messages, Send, Interrupt, ...), classes defined in this project's
package and in `langchain_core.messages`, and the modules the caller allows in addition. A name in
those modules must resolve to a class defined there (not a function, and not a class it merely
imported). Pickle is refused. Otherwise the application's serializer (permissive by default)
would rebuild whatever class a crafted file names the next time the thread is loaded.

The values are then decoded by `TypePolicy.decoder()`: a `JsonPlusSerializer` in strict mode
whose allowlist holds exactly the classes the check approved.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import inspect
from collections.abc import Iterable
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde import jsonplus

# LangGraph's own allowlists (the ones strict mode applies); the module is private, the lists are
# what LANGGRAPH_STRICT_MSGPACK documents.
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES

from .values import MSGPACK_OPTIONS, VALUE_KINDS, Typed, one_object

# Modules whose classes an import may rebuild, besides LangGraph's safe list (and the
# project's own package, which the caller adds).
TRUSTED_MODULES = ("langchain_core.messages",)

_CONSTRUCTORS = frozenset(
    {
        jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
        jsonplus.EXT_CONSTRUCTOR_POS_ARGS,
        jsonplus.EXT_CONSTRUCTOR_KW_ARGS,
        jsonplus.EXT_PYDANTIC_V1,
        jsonplus.EXT_PYDANTIC_V2,
    }
)
_PLAIN_EXTENSIONS = frozenset({jsonplus.EXT_NUMPY_ARRAY, jsonplus.EXT_DELTA_SNAPSHOT})
_NOT_ONE = "the value is not one msgpack object (damaged?)"


class _Refused(Exception):
    """A value an import will not load; the message says why."""


class TypePolicy:
    """Decides which types the values of an export may name, without building any object."""

    def __init__(self, allowed_modules: Iterable[str] = ()) -> None:
        """`allowed_modules`: modules whose classes may be rebuilt, or `module:Class` entries
        for one class each (what a serializer's `allowed_msgpack_modules` names)."""
        entries = list(allowed_modules)
        self.classes = {tuple(e.split(":", 1)) for e in entries if ":" in e}
        self.modules = (*TRUSTED_MODULES, *(e for e in entries if ":" not in e))
        self.approved: set[tuple[str, str]] = set()  # classes checked and found trusted
        self._verdicts: dict[tuple[str, str], str | None] = {}
        self._refusals: list[str] = []  # why the value at hand is refused, innermost first

    def problem(self, value: Typed) -> str | None:
        """Why an import must not load `value` (in the export's form), or None."""
        try:
            data = base64.b64decode(value[1], validate=True)
        except binascii.Error:
            return "the value is not valid base64"
        kind = value[0]
        if kind not in VALUE_KINDS:
            return f"values of type {kind!r} are never imported"
        if kind != "msgpack":
            return None
        if not data or not one_object(data):
            return _NOT_ONE
        self._refusals.clear()
        try:
            ormsgpack.unpackb(data, ext_hook=self._extension, option=MSGPACK_OPTIONS)
        except (_Refused, ValueError, TypeError, IndexError):  # a failing hook: a ValueError
            return self._refusals[0] if self._refusals else "the value is not valid msgpack"
        return None

    def decoder(self) -> jsonplus.JsonPlusSerializer:
        """A strict serializer that rebuilds the approved classes and LangGraph's safe types."""
        return jsonplus.JsonPlusSerializer(
            pickle_fallback=False, allowed_msgpack_modules=sorted(self.approved) or None
        )

    def _extension(self, code: int, payload: bytes) -> None:
        """The decoder's hook for each extension of a value (an object of some class): its
        payload must be one msgpack object, and name a trusted type."""
        if not payload or not one_object(payload):
            self._refusals.append(_NOT_ONE)
            raise _Refused(_NOT_ONE)
        inner = ormsgpack.unpackb(payload, ext_hook=self._extension, option=MSGPACK_OPTIONS)
        if (reason := self._extension_problem(code, inner)) is not None:
            self._refusals.append(reason)
            raise _Refused(reason)

    def _extension_problem(self, code: int, inner: Any) -> str | None:
        if code in _PLAIN_EXTENSIONS:
            return None
        if code not in _CONSTRUCTORS and code != jsonplus.EXT_METHOD_SINGLE_ARG:
            return f"unknown msgpack extension {code}"
        if not (isinstance(inner, list) and len(inner) >= 3 and _all_str(inner[:2])):
            return "a malformed msgpack extension"
        module, name = inner[0], inner[1]
        if code == jsonplus.EXT_METHOD_SINGLE_ARG:
            call = (module, name, inner[3] if len(inner) > 3 else "")
            return None if call in SAFE_MSGPACK_METHODS else f"a call of {'.'.join(map(str, call))}"
        return self._type_problem(module, name)

    def _type_problem(self, module: str, name: str) -> str | None:
        key = (module, name)
        if key in SAFE_MSGPACK_TYPES:
            return None
        if key not in self._verdicts:
            self._verdicts[key] = self._judge(module, name)
            if self._verdicts[key] is None:
                self.approved.add(key)
        return self._verdicts[key]

    def _judge(self, module: str, name: str) -> str | None:
        trusted = ", ".join(self.modules)
        untrusted = (
            f"{module}.{name} is not a trusted type "
            f"(import rebuilds only classes of {trusted} and LangGraph's safe types)"
        )
        if "__main__" in module.split("."):
            return (
                f"{module}.{name} was defined in a script or notebook (__main__): no other "
                "process can rebuild it. Move the class into a module of your project, "
                "write the state again, and export it again"
            )
        one_class = (module, name) in self.classes
        if not one_class and not self._trusts(module):
            return f"{untrusted}; if you trust that module, add --trust {module}"
        try:
            obj = getattr(importlib.import_module(module), name)
        except Exception as exc:  # any failure to import means "cannot rebuild here"
            return f"{module}.{name} cannot be imported here ({type(exc).__name__}: {exc})"
        if (
            not inspect.isclass(obj)
            or issubclass(obj, BaseException)
            or not (one_class and obj.__module__ == module or self._trusts(obj.__module__))
        ):
            return untrusted
        return None

    def _trusts(self, module: str) -> bool:
        return any(module == m or module.startswith(f"{m}.") for m in self.modules)


def _all_str(items: Iterable[Any]) -> bool:
    return all(isinstance(item, str) for item in items)
