"""The resource types every engine knows without plugins.

`BUILTIN_ACTORS` is what `actors.registry.default_registry` registers. Each type
lives in its own module; the `OS::Heat::*` types follow OpenStack Heat's
behaviour (see each module's docstring for the deliberate differences).
"""

from actors.base import ResourceActor
from actors.builtin.local_file import LocalFile
from actors.builtin.none import NoneResource
from actors.builtin.random_string import RandomString
from actors.builtin.test_resource import TestResource
from actors.builtin.value import Value

BUILTIN_ACTORS: list[type[ResourceActor]] = [
    NoneResource,
    Value,
    RandomString,
    TestResource,
    LocalFile,
]

__all__ = [
    "BUILTIN_ACTORS",
    "LocalFile",
    "NoneResource",
    "RandomString",
    "TestResource",
    "Value",
]
