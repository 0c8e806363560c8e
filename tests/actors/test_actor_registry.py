"""The registry: built-ins, duplicate names, `--plugin` modules and entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from actors import (
    ActorContext,
    Created,
    Registry,
    RegistryError,
    ResourceActor,
    default_registry,
)
from actors.builtin import BUILTIN_ACTORS, NoneResource

PLUGIN_SOURCE = """
from actors import Created, ResourceActor

class Widget(ResourceActor):
    type_name = "Test::Widget"

    async def create(self, ctx, props):
        return Created("widget")

    async def delete(self, ctx, physical_id, props):
        pass

RESOURCE_ACTORS = [Widget]
"""


class Other(ResourceActor):
    type_name = "OS::Heat::None"

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        return Created("other")

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        pass


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path; modules imported from it are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_default_registry_holds_the_five_builtins() -> None:
    registry = default_registry()
    assert list(registry) == [
        "Local::File",
        "OS::Heat::None",
        "OS::Heat::RandomString",
        "OS::Heat::TestResource",
        "OS::Heat::Value",
    ]
    assert [registry.actor_class(name) for name in registry] == sorted(
        BUILTIN_ACTORS, key=lambda cls: cls.type_name
    )
    assert registry.get("OS::Heat::None") is registry.get("OS::Heat::None")
    assert registry.get("Nope::Nothing") is None


def test_a_name_registered_twice_is_an_error_naming_both() -> None:
    registry = default_registry()
    registry.register(NoneResource)  # the same class again is harmless
    with pytest.raises(RegistryError) as caught:
        registry.register(Other)
    message = str(caught.value)
    assert "OS::Heat::None is registered twice" in message
    assert "actors.builtin.none.NoneResource" in message
    assert f"{__name__}.Other" in message
    registry.register(Other, replace=True)
    assert registry.actor_class("OS::Heat::None") is Other


def test_a_class_without_type_name_is_refused() -> None:
    class Nameless(Other):
        type_name = ""

    with pytest.raises(RegistryError, match="has no type_name"):
        Registry().register(Nameless)


def test_an_abstract_class_is_refused() -> None:
    class Unfinished(ResourceActor):
        type_name = "Test::Unfinished"

    with pytest.raises(RegistryError, match="abstract"):
        Registry().register(Unfinished)  # type: ignore[type-abstract]


def test_load_plugin_registers_resource_actors(plugin_dir: Path) -> None:
    (plugin_dir / "widgets_plugin.py").write_text(PLUGIN_SOURCE)
    registry = Registry()
    registry.load_plugin("widgets_plugin")
    assert list(registry) == ["Test::Widget"]
    registry.load_plugin("widgets_plugin")  # loading twice is harmless


def test_load_plugin_reports_import_errors(plugin_dir: Path) -> None:
    (plugin_dir / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(RegistryError, match=r"^plugin broken_plugin: cannot import: boom$"):
        Registry().load_plugin("broken_plugin")
    with pytest.raises(RegistryError, match="cannot import"):
        Registry().load_plugin("no_such_plugin_module")


def test_load_plugin_refuses_what_is_not_an_actor(plugin_dir: Path) -> None:
    (plugin_dir / "odd_plugin.py").write_text("RESOURCE_ACTORS = [object]\n")
    with pytest.raises(RegistryError, match="is not a ResourceActor subclass"):
        Registry().load_plugin("odd_plugin")


def test_load_plugin_finds_the_example_without_installing(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "examples" / "plugin"
    monkeypatch.syspath_prepend(str(example))
    monkeypatch.delitem(sys.modules, "acme_actors", raising=False)
    try:
        registry = default_registry()
        registry.load_plugin("acme_actors")
        assert "Acme::Bucket" in registry
    finally:
        sys.modules.pop("acme_actors", None)


def _fake_distribution(where: Path, entry_point: str) -> None:
    info = where / "fake_widgets-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-widgets\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [convergent.resource_actors]
            widgets = {entry_point}
            """
        )
    )


def test_load_entry_points_registers_a_list_or_a_class(plugin_dir: Path) -> None:
    (plugin_dir / "widgets_ep.py").write_text(PLUGIN_SOURCE)
    _fake_distribution(plugin_dir, "widgets_ep:Widget")
    registry = Registry()
    registry.load_entry_points()
    assert "Test::Widget" in registry


def test_load_entry_points_reports_a_broken_entry_point(plugin_dir: Path) -> None:
    _fake_distribution(plugin_dir, "missing_module_xyz:THINGS")
    with pytest.raises(RegistryError, match=r"^entry point widgets \(missing_module_xyz:THINGS\)"):
        Registry().load_entry_points()
