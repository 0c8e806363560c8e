"""Measurements of one operation over every stack of a run, and the figures derived from them.

The critical-path bound is the time a perfect engine would need: the latency
times the resources on the longest dependency path. Whatever the wall time adds
to it is engine time, spread over every resource of every stack.
"""

from __future__ import annotations

import resource
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: the optional store attribute counting the statements it has executed so far
STATEMENTS_ATTRIBUTE = "statements"


#: starts compared at each end of a stack's updates (fewer when there are under 10 updates)
START_WINDOW = 5


def start_window(updates: int) -> int:
    """How many starts to average at each end of `updates` updates: at most `START_WINDOW`,
    and the two ends never share an update (unless there is only one)."""
    return min(START_WINDOW, max(1, updates // 2))


@dataclass(frozen=True)
class SupersedeFigures:
    """What the supersede operation measured over every stack (see `scripts.loadgen.supersede`)."""

    #: updates (of all stacks) called while the previous update of their stack still ran
    overlapped: int
    #: longest time, over the stacks, from calling the last update until the stack settled
    last_update_s: float
    #: `start_window` of the number of updates
    window: int
    #: mean start of the first and of the last `window` updates of every stack
    first_starts_ms: float
    last_starts_ms: float
    #: ready entries of superseded traversals once the stacks settled: 0 when purging works
    leftover_ready: int
    #: sampled sync points of superseded traversals still stored once the stacks settled
    leftover_sync_points: int
    sampled_sync_points: int

    def figures(self) -> dict[str, Any]:
        return {"overlapped": self.overlapped, "last_update_s": round(self.last_update_s, 4),
                "starts_window": self.window,
                "first_starts_ms": round(self.first_starts_ms, 3),
                "last_starts_ms": round(self.last_starts_ms, 3),
                "leftover_ready": self.leftover_ready,
                "leftover_sync_points": self.leftover_sync_points,
                "sampled_sync_points": self.sampled_sync_points}


#: the keys of `SupersedeFigures.figures`: null on the lines of other operations
SUPERSEDE_KEYS = ("overlapped", "last_update_s", "starts_window", "first_starts_ms",
                  "last_starts_ms", "leftover_ready", "leftover_sync_points",
                  "sampled_sync_points")


@dataclass(frozen=True)
class OperationResult:
    """One operation (create, update, supersede or delete) run on every stack at once."""

    run: int
    operation: str
    wall_s: float
    #: resources of all stacks together
    resources: int
    #: resources on the longest dependency path of one stack
    critical_path_length: int
    latency: float
    #: statements the store executed during the operation, when it counts them
    statements: int | None
    peak_rss_mib: float
    #: final `ACTION_STATUS` of each stack, by stack name
    statuses: Mapping[str, str]
    #: the reason each stack that did not complete gave
    failures: Mapping[str, str] = field(default_factory=dict)
    #: the supersede operation's own figures (None for the other operations)
    supersede: SupersedeFigures | None = None
    #: seconds from the operation's start to its first actor call, when timed (with latency)
    startup_s: float | None = None

    @property
    def ok(self) -> bool:
        expected = completed(self.operation)
        return all(status == expected for status in self.statuses.values())

    @property
    def critical_path_s(self) -> float:
        return self.latency * self.critical_path_length

    def figures(self) -> dict[str, Any]:
        """The reported figures, rounded; ratios that would divide by zero are None."""
        bound = self.critical_path_s
        return {
            "wall_s": round(self.wall_s, 4),
            "resources": self.resources,
            "resources_per_second": _ratio(self.resources, self.wall_s, 1),
            "critical_path_length": self.critical_path_length,
            "critical_path_s": round(bound, 4),
            "engine_ms_per_resource": _ratio((self.wall_s - bound) * 1000, self.resources, 4),
            "makespan_ratio": _ratio(self.wall_s, bound, 3),
            "startup_s": None if self.startup_s is None else round(self.startup_s, 4),
            "after_startup_ratio": None if self.startup_s is None
            else _ratio(self.wall_s - self.startup_s, bound, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "statements_per_resource": None if self.statements is None
            else _ratio(self.statements, self.resources, 2),
            "status": summarize(self.statuses),
            "ok": self.ok,
            "statuses": dict(self.statuses),
            "failures": dict(self.failures),
            **(dict.fromkeys(SUPERSEDE_KEYS) if self.supersede is None
               else self.supersede.figures()),
        }


def completed(operation: str) -> str:
    """The status a stack ends in when `operation` succeeds: `CREATE_COMPLETE` for create,
    `UPDATE_COMPLETE` for supersede (a series of updates)."""
    action = "update" if operation == "supersede" else operation
    return f"{action.upper()}_COMPLETE"


def _ratio(numerator: float, denominator: float, digits: int) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def summarize(statuses: Mapping[str, str]) -> str:
    """`CREATE_COMPLETE` for one stack or when all agree, else counts: `2x A, 1x B`."""
    counts = Counter(statuses.values())
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{count}x {status}" for status, count in counts.most_common())


def peak_rss_mib() -> float:
    """This process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def store_statements(store: object) -> int | None:
    """The store's running count of executed statements, if it keeps one."""
    count = getattr(store, STATEMENTS_ATTRIBUTE, None)
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    return None


def statements_between(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before
