"""Checks of the ordering guarantees (DESIGN section 7) over a recording actor's call log.

Scenario templates give every `Test::Recorder` resource an `inputs` property
listing `get_resource` of each resource it depends on, so each call carries the
physical ids it references. From the log alone:

1. a create/update of r starts only when every physical id in its inputs was
   fully created before and is not being deleted;
2. a delete of p starts only when no live resource (other than p) references
   p in its last applied inputs;
3. the calls on one physical resource never overlap;
4. at the end, exactly one live physical resource per resource of the last
   template, each with the last template's values, and no create repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support import Call, CallLog


@dataclass
class Physical:
    name: str
    created: bool = False
    deleting: bool = False
    inputs: tuple[str, ...] = ()
    value: Any = None
    busy: bool = False


def _inputs(call: Call) -> tuple[str, ...]:
    raw = call.props.get("inputs")
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    return tuple(str(v) for v in values if v is not None)


@dataclass
class Replay:
    """Replays a call log and records every violation it finds."""

    log: CallLog
    physical: dict[str, Physical] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def run(self) -> Replay:
        for call in self.log.calls:
            self._step(call)
        return self

    def _step(self, call: Call) -> None:
        res = self.physical.setdefault(call.physical_id, Physical(call.resource))
        if call.phase == "start":
            if res.busy:
                self.violations.append(f"3: overlapping calls on {call.physical_id}")
            res.busy = True
            if call.operation in ("create", "update"):
                self._check_inputs(call)
            elif call.operation == "delete":
                self._check_unreferenced(call)
            return
        res.busy = False
        if call.phase == "failed":
            return
        if call.operation == "create":
            if res.created:
                self.violations.append(f"4: {call.physical_id} created twice")
            res.created, res.inputs, res.value = True, _inputs(call), call.props.get("value")
        elif call.operation == "update":
            res.inputs, res.value = _inputs(call), call.props.get("value")
        elif call.operation == "delete":
            res.created, res.deleting = False, False

    def _check_inputs(self, call: Call) -> None:
        for ref in _inputs(call):
            dep = self.physical.get(ref)
            if dep is None or not dep.created:
                self.violations.append(
                    f"1: {call.operation} {call.resource} uses {ref} before it was created")
            elif dep.deleting:
                self.violations.append(
                    f"1: {call.operation} {call.resource} uses {ref} while it is deleted")

    def _check_unreferenced(self, call: Call) -> None:
        self.physical[call.physical_id].deleting = True
        for pid, other in self.physical.items():
            if pid != call.physical_id and other.created and call.physical_id in other.inputs:
                self.violations.append(
                    f"2: delete of {call.resource} ({call.physical_id}) while {other.name} "
                    f"({pid}) still references it")

    def live(self) -> dict[str, list[Physical]]:
        by_name: dict[str, list[Physical]] = {}
        for res in self.physical.values():
            if res.created:
                by_name.setdefault(res.name, []).append(res)
        return by_name


def check_log(log: CallLog) -> Replay:
    replay = Replay(log).run()
    assert replay.violations == [], "\n".join(replay.violations)
    return replay


def check_converged(log: CallLog, expected: Mapping[str, Any],
                    retained: frozenset[str] = frozenset()) -> None:
    """Guarantees 1-3 over the whole log, and 4 against `expected` (name -> value)."""
    replay = check_log(log)
    live = replay.live()
    names = {n for n in live if n not in retained}
    assert names == set(expected), f"live {sorted(names)} != expected {sorted(expected)}"
    for name, value in expected.items():
        copies = live[name]
        assert len(copies) == 1, f"4: {name} has {len(copies)} live copies"
        assert copies[0].value == value, f"4: {name} is {copies[0].value!r}, not {value!r}"
