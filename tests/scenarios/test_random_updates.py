"""Random overlapping updates on random DAGs, in trio virtual time (convergence path).

Each seed builds a sequence of random templates over a pool of names: each
resource depends on a random subset of the resources before it, has a random
latency, sometimes a changed `fixed` property (which forces a replacement),
and sometimes an injected create or update failure. The operations start at
random times while earlier ones are still running: each supersedes the one
before it. The last template has no injected failure. After the stack settles:
guarantees 1-3 over the whole call log, and guarantee 4, convergence to the
last template with no leaked or duplicated physical resource.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio

from storage import Action, StackRecord, Status
from tests.scenarios.guarantees import check_converged
from tests.scenarios.test_scenarios import Spec, Story, expected, story

SEEDS = range(80)
NAMES = [f"r{i}" for i in range(8)]


def random_spec(rng: random.Random, failures: bool) -> Spec:
    present = [name for name in NAMES if rng.random() < 0.7] or [NAMES[0]]
    spec: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(present):
        earlier = present[:index]
        item: dict[str, Any] = {
            "deps": sorted(rng.sample(earlier, k=min(len(earlier), rng.randint(0, 2)))),
            "value": f"{name}-{rng.randint(0, 3)}",
            "fixed": rng.choice(["", "", "x", "y"]),
            "delay": rng.choice([0, 0, 1, 2, 5]),
        }
        if failures and rng.random() < 0.08:
            item["fail"] = [rng.choice(["create", "update"])]
        spec[name] = item
    return spec


async def _run(s: Story, spec: Spec, rollback: bool, results: list[StackRecord],
               first: bool) -> None:
    if first:
        results.append(await s.create(spec, rollback=rollback))
    else:
        results.append(await s.update(spec, rollback=rollback))


@pytest.mark.trio
@pytest.mark.parametrize("seed", SEEDS)
async def test_overlapping_updates_converge_to_the_last_template(
        seed: int, autojump_clock: object) -> None:
    rng = random.Random(seed)
    steps = rng.randint(2, 5)
    specs = [random_spec(rng, failures=i < steps - 1) for i in range(steps)]
    async with story("convergence") as s:
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            for index, spec in enumerate(specs):
                nursery.start_soon(_run, s, spec, rng.random() < 0.5, results, index == 0)
                if index == 0:
                    await _until_stored(s)
                await trio.sleep(rng.choice([0, 0.5, 1, 3, 8]))
        last = specs[-1]
        final = results[-1]
        assert (final.action, final.status) in {(Action.CREATE, Status.COMPLETE),
                                                (Action.UPDATE, Status.COMPLETE)}, \
            f"seed {seed}: {final.action.value}_{final.status.value}: {final.reason}"
        stack = await s.store.get_stack(s.name)
        assert stack is not None and stack.status is Status.COMPLETE, stack
        await s.assert_state(stack, f"{stack.action.value}_COMPLETE", last)
        check_converged(s.log, expected(last))
        assert await s.store.list_ready(stack.id) == []


async def _until_stored(s: Story) -> None:
    """Wait until the create has stored the stack, so the updates find it."""
    while True:
        if await s.store.get_stack(s.name) is not None:
            return
        await trio.sleep(0.01)
