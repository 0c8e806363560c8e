"""The engine's process-wide setting (fewer full garbage collections while any engine runs)
and its ids."""

from __future__ import annotations

import gc
import time

import pytest

from actors import default_registry
from storage import open_store
from supervisor.config import Config
from supervisor.engine import FULL_COLLECTION_EVERY, new_id, running_engine

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


def test_new_ids_are_unique_hex_and_sort_by_the_millisecond_they_were_made() -> None:
    """Time-ordered ids (the first 12 hex digits are milliseconds): rows made one after
    another sit together in the store's indexes."""
    first = [new_id() for _ in range(2000)]
    time.sleep(0.002)
    later = [new_id() for _ in range(2000)]
    ids = first + later
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert max(first) < min(later)
    assert abs(int(later[0][:12], 16) - time.time_ns() // 1_000_000) < 1000
