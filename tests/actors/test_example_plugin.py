"""The example plugin in examples/plugin: its bucket, and its installation by pip."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from actors import ActorContext, Operation, Registry, ResourceFailure, validate_properties

EXAMPLE = Path(__file__).parents[2] / "examples" / "plugin"
DISTRIBUTION = "convergent-example-plugin"

MakeCtx = Callable[..., ActorContext]


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The plugin imported from the source tree, as `--plugin` with PYTHONPATH would."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.delitem(sys.modules, "acme_actors", raising=False)
    try:
        yield importlib.import_module("acme_actors")
    finally:
        sys.modules.pop("acme_actors", None)


def bucket_props(actor: Any, root: Path, **values: Any) -> dict[str, Any]:
    return validate_properties(actor.properties_schema, {"root": str(root), **values})


@pytest.mark.anyio
async def test_bucket_lifecycle(acme: ModuleType, tmp_path: Path, make_ctx: MakeCtx) -> None:
    bucket = acme.Bucket()
    old = bucket_props(bucket, tmp_path, name="logs", labels={"env": "dev"})
    created = await bucket.create(make_ctx(), old)
    assert created.physical_id == str(tmp_path / "logs")
    assert created.attributes == {"url": (tmp_path / "logs").as_uri(), "versioning": False}
    new = bucket_props(bucket, tmp_path, name="logs", versioning=True)
    attrs = await bucket.update(
        make_ctx(Operation.UPDATE),
        created.physical_id,
        old,
        new,
        frozenset({"versioning", "labels"}),
    )
    assert attrs["versioning"] is True
    await bucket.check(make_ctx(Operation.CHECK), created.physical_id, new)
    await bucket.delete(make_ctx(Operation.DELETE), created.physical_id, new)
    assert not (tmp_path / "logs").exists()
    await bucket.delete(make_ctx(Operation.DELETE), created.physical_id, new)
    with pytest.raises(ResourceFailure, match="missing"):
        await bucket.check(make_ctx(Operation.CHECK), created.physical_id, new)


@pytest.mark.anyio
async def test_create_is_idempotent_by_key(
    acme: ModuleType, tmp_path: Path, make_ctx: MakeCtx
) -> None:
    bucket = acme.Bucket()
    values = bucket_props(bucket, tmp_path, name="data")
    first = await bucket.create(make_ctx(key="row-1"), values)
    again = await bucket.create(make_ctx(key="row-1"), values)
    assert again == first
    with pytest.raises(ResourceFailure, match="already exists"):
        await bucket.create(make_ctx(key="row-2"), values)


@pytest.mark.anyio
async def test_root_comes_from_acme_root(
    acme: ModuleType, tmp_path: Path, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = acme.Bucket()
    values = validate_properties(bucket.properties_schema, {"name": "b"})
    monkeypatch.delenv("ACME_ROOT", raising=False)
    with pytest.raises(ResourceFailure, match="ACME_ROOT"):
        await bucket.create(make_ctx(), values)
    monkeypatch.setenv("ACME_ROOT", str(tmp_path))
    created = await bucket.create(make_ctx(), values)
    assert created.physical_id == str(tmp_path / "b")


@pytest.mark.anyio
async def test_a_foreign_directory_is_not_taken_over(
    acme: ModuleType, tmp_path: Path, make_ctx: MakeCtx
) -> None:
    (tmp_path / "photos").mkdir()
    bucket = acme.Bucket()
    with pytest.raises(ResourceFailure, match="not an Acme bucket"):
        await bucket.create(make_ctx(), bucket_props(bucket, tmp_path, name="photos"))


def _installed() -> bool:
    try:
        importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Install a copy of the example (no network, no build isolation); undo it afterwards.

    Building needs a setuptools that can make wheels by itself (>= 70.1) in this
    environment; the test extras provide it.
    """
    source = tmp_path_factory.mktemp("example") / "plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    was_installed = _installed()
    done = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(source))
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.modules.pop("acme_actors", None)
        if not was_installed:
            _pip("uninstall", "-y", "-q", DISTRIBUTION)
        importlib.invalidate_caches()


@pytest.mark.skipif(importlib.util.find_spec("pip") is None, reason="pip is not available")
@pytest.mark.anyio
async def test_installed_plugin_is_found_through_its_entry_point(
    installed_plugin: None, tmp_path: Path, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "acme_actors", raising=False)
    registry = Registry()
    registry.load_entry_points()
    cls = registry.actor_class("Acme::Bucket")
    assert cls is not None
    assert EXAMPLE not in Path(inspect.getfile(cls)).parents  # the installed copy
    monkeypatch.setenv("ACME_ROOT", str(tmp_path))
    actor = registry.get("Acme::Bucket")
    assert actor is not None
    values = validate_properties(cls.properties_schema, {"name": "installed"})
    created = await actor.create(make_ctx(), values)
    assert (tmp_path / "installed").is_dir()
    assert created.attributes["url"] == (tmp_path / "installed").as_uri()
