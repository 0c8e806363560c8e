"""The gate that orders a traversal's nodes by slack (`supervisor.convergence.priority`).

Each story runs tasks that take a turn, note that they passed, then let go;
the order of the notes is the order the gate gave them.
"""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel
import trio.testing

from supervisor.convergence.priority import NO_TURN, Gate, Turn


async def passing(turn: Turn, name: str, passed: list[str], hold_for: float = 0.0) -> None:
    await turn.take()
    passed.append(name)
    await trio.sleep(hold_for)
    turn.release()


@pytest.mark.trio
async def test_turns_pass_least_slack_first_whatever_order_they_run_in(
        autojump_clock: trio.testing.MockClock) -> None:
    """Turns registered in one round pass in slack order, however the loop orders the tasks:
    each holds the ones behind it for its second of steps."""
    gate = Gate()
    passed: list[str] = []
    async with trio.open_nursery() as nursery:
        for name, slack in [("c", 2), ("a", 0), ("b", 1), ("c2", 2)]:
            nursery.start_soon(passing, gate.turn(slack), name, passed, 1.0)
    assert passed[:2] == ["a", "b"]
    assert sorted(passed[2:]) == ["c", "c2"]
    assert gate.held == {}


@pytest.mark.trio
async def test_turns_of_equal_slack_do_not_wait_for_each_other(
        autojump_clock: trio.testing.MockClock) -> None:
    gate = Gate()
    passed: list[str] = []
    async with trio.open_nursery() as nursery:
        for name in "xyz":
            nursery.start_soon(passing, gate.turn(1), name, passed, 1.0)
        await trio.sleep(0.5)
        assert sorted(passed) == ["x", "y", "z"]  # all at once, none held up
        assert gate.held == {1: 3}


@pytest.mark.trio
async def test_a_turn_waits_only_while_a_lesser_slack_is_held(
        autojump_clock: trio.testing.MockClock) -> None:
    """A node with slack waits while the critical node does its steps, and goes the moment
    the critical node lets go (its actor starts): not when the critical node ends."""
    gate = Gate()
    passed: list[str] = []
    critical = gate.turn(0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(passing, gate.turn(3), "slack", passed)
        await trio.sleep(5)
        assert passed == []
        critical.release()
        for _ in range(2):  # its wake-up, then its pass
            await trio.lowlevel.checkpoint()
        assert passed == ["slack"]
        assert trio.current_time() == 5
    assert gate.held == {}


@pytest.mark.trio
async def test_a_turn_taken_again_after_the_action_waits_again(
        autojump_clock: trio.testing.MockClock) -> None:
    """After its actor returns a node takes its turn again, behind the nodes of less slack
    that hold one then."""
    gate = Gate()
    slack = gate.turn(1)
    await slack.take()  # nothing of less slack held: passes
    slack.release()
    critical = gate.turn(0)
    with trio.move_on_after(1) as waited:
        await slack.take()
    assert waited.cancelled_caught
    assert gate.held == {0: 1, 1: 1}  # held from the take, while it waits
    critical.release()
    await slack.take()
    slack.release()
    slack.release()  # letting go twice is letting go once
    assert gate.held == {}


@pytest.mark.trio
async def test_no_turn_never_waits_and_holds_nothing(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(1):
        await NO_TURN.take()
    NO_TURN.hold()
    NO_TURN.release()
    assert NO_TURN.slack == 0


@pytest.mark.trio
async def test_a_gate_not_ordering_lets_every_turn_pass_and_still_times_the_critical_ones(
        autojump_clock: trio.testing.MockClock) -> None:
    """A loaded engine (critical steps slow against actions) stops ordering: a node with
    slack passes while a critical one holds its turn. Critical turns are timed either way,
    so the engine notices when the load is gone."""
    timed: list[float] = []
    ordering = [False]
    gate = Gate(timed.append, lambda: ordering[0])
    critical = gate.turn(0)
    slack = gate.turn(4)
    with trio.fail_after(1):
        await slack.take()
    await trio.sleep(2)
    slack.release()
    critical.release()
    assert timed == [2.0]  # the critical turn's two seconds; the slack turn is not timed
    ordering[0] = True
    critical = gate.turn(0)
    with trio.move_on_after(1) as waited:
        await gate.turn(4).take()
    assert waited.cancelled_caught
