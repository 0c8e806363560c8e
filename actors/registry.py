"""The registry of resource types: built-ins, entry points and `--plugin` modules.

A `Registry` maps a type name to its actor class and instance. Plugins register
through `register` (a module imported with `--plugin` calls it at import time,
usually via the `resource_actor` decorator on the default registry) or by
exposing a class in the `convergent.resource_actors` entry-point group.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from importlib.metadata import entry_points

from actors.base import ResourceActor

ENTRY_POINT_GROUP = "convergent.resource_actors"


class RegistryError(Exception):
    """A plugin could not be loaded or a type name is registered twice."""


class Registry:
    def __init__(self) -> None:
        self._classes: dict[str, type[ResourceActor]] = {}
        self._instances: dict[str, ResourceActor] = {}

    def register(self, cls: type[ResourceActor], *, replace: bool = False) -> None:
        name = getattr(cls, "type_name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{cls.__qualname__} has no type_name")
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
            raise RegistryError(f"{name} ({cls.__qualname__}) is abstract: it lacks {missing}")
        existing = self._classes.get(name)
        if existing is not None and existing is not cls and not replace:
            raise RegistryError(
                f"resource type {name} is registered twice: "
                f"{existing.__module__}.{existing.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        self._classes[name] = cls
        self._instances.pop(name, None)

    def get(self, type_name: str) -> ResourceActor | None:
        instance = self._instances.get(type_name)
        if instance is None:
            cls = self._classes.get(type_name)
            if cls is None:
                return None
            instance = self._instances[type_name] = cls()
        return instance

    def actor_class(self, type_name: str) -> type[ResourceActor] | None:
        return self._classes.get(type_name)

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def copy(self) -> Registry:
        clone = Registry()
        clone._classes = dict(self._classes)
        return clone

    def load_entry_points(self) -> None:
        """Register every class advertised in the `convergent.resource_actors` group."""
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = point.load()
            except Exception as err:
                raise RegistryError(f"entry point {point.name} ({point.value}): {err}") from err
            self._register_loaded(loaded, f"entry point {point.name}")

    def load_plugin(self, module_name: str) -> None:
        """Import a module; it registers its actors, or exposes them as `RESOURCE_ACTORS`."""
        try:
            module = importlib.import_module(module_name)
        except Exception as err:
            raise RegistryError(f"plugin {module_name}: cannot import: {err}") from err
        for cls in getattr(module, "RESOURCE_ACTORS", ()):
            self._register_loaded(cls, f"plugin {module_name}")

    def _register_loaded(self, loaded: object, where: str) -> None:
        classes = loaded if isinstance(loaded, list | tuple) else [loaded]
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, ResourceActor)):
                raise RegistryError(f"{where}: {cls!r} is not a ResourceActor subclass")
            self.register(cls)


def default_registry() -> Registry:
    """A registry holding the built-in types only."""
    from actors.builtin import BUILTIN_ACTORS

    registry = Registry()
    for cls in BUILTIN_ACTORS:
        registry.register(cls)
    return registry
