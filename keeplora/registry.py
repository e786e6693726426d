"""One registry type for every pluggable thing (models, methods, scorers, layer-scale schedules)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import UserError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → object; registering a name twice or asking for an unknown one is a one-line error."""

    def __init__(self, kind: str, name_attr: str | None = None):
        self.kind, self.name_attr = kind, name_attr      # name_attr: set the name on registered classes
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered by "
                                 f"{getattr(self._items[name], '__module__', '?')}")
            if self.name_attr:
                setattr(obj, self.name_attr, name)
            self._items[name] = obj
            return obj
        return deco

    def get(self, name: str) -> T:
        if name not in self._items:
            raise UserError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._items))}")
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(sorted(self._items))
