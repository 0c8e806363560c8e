"""The engine's process-wide setting: fewer full garbage collections while any engine runs."""

from __future__ import annotations

import gc

import pytest

from actors import default_registry
from storage import open_store
from supervisor.config import Config
from supervisor.engine import FULL_COLLECTION_EVERY, running_engine

pytestmark = pytest.mark.anyio


async def test_full_collections_are_rarer_while_engines_run() -> None:
    before = gc.get_threshold()
    store = await open_store("memory://")
    async with running_engine(store, default_registry(), Config()):
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_EVERY)
        async with running_engine(store, default_registry(), Config()):
            assert gc.get_threshold()[2] == FULL_COLLECTION_EVERY
        # the inner engine ended, the outer one still runs
        assert gc.get_threshold()[2] == FULL_COLLECTION_EVERY
    assert gc.get_threshold() == before


async def test_the_threshold_is_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    store = await open_store("memory://")
    with pytest.raises(KeyError):
        async with running_engine(store, default_registry(), Config()):
            raise KeyError("boom")
    assert gc.get_threshold() == before
