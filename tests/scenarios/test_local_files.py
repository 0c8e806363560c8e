"""A stack of real files through its life: order by data flow and timestamps, in-place
updates, a path change that replaces, Retain on delete, and no leftovers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from actors import default_registry
from storage import Status, Store
from supervisor import stacks
from tests.support import engine_on, hot, inputs, make_store

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = await make_store(request.param, tmp_path)
    yield store
    await store.close()


def files(root: Path, base_name: str = "base.txt", top_mode: str = "0644") -> dict[str, Any]:
    return hot({
        "base": {"type": "Local::File",
                 "properties": {"path": str(root / base_name), "content": "base\n"}},
        "middle": {"type": "Local::File", "properties": {
            "path": str(root / "middle.txt"),
            "content": {"get_attr": ["base", "sha256"]}}},
        "top": {"type": "Local::File", "deletion_policy": "Retain", "properties": {
            "path": str(root / "top.txt"), "mode": top_mode,
            "content": {"list_join": [",", [{"get_attr": ["middle", "sha256"]},
                                             {"get_resource": "base"}]]}}},
    }, outputs={"top": {"value": {"get_attr": ["top", "path"]}}})


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_file_stack_lifecycle(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "out"
    async with engine_on(store, default_registry()) as engine:
        stack = await stacks.create_stack(engine, "files", inputs(files(root)))
        assert stack.status is Status.COMPLETE
        base, middle, top = (root / n for n in ("base.txt", "middle.txt", "top.txt"))
        assert middle.read_text() == sha("base\n")
        assert top.read_text() == f"{sha(sha('base' + chr(10)))},{base}"
        assert base.stat().st_mtime_ns <= middle.stat().st_mtime_ns <= top.stat().st_mtime_ns

        # mode changes in place; the base path change replaces base, which re-points the rest
        stack = await stacks.update_stack(engine, "files",
                                          inputs(files(root, "base2.txt", "0600")))
        assert stack.status is Status.COMPLETE
        assert not base.exists() and (root / "base2.txt").read_text() == "base\n"
        assert top.stat().st_mode & 0o777 == 0o600
        assert top.read_text().endswith(str(root / "base2.txt"))

        final = await stacks.delete_stack(engine, "files")
        assert final.status is Status.COMPLETE
        assert sorted(p.name for p in root.iterdir()) == ["top.txt"]  # Retain kept it
