"""How fast the host is at the moment of a load run, so that runs on different hosts, or
on the same host on a slower day, can be compared.

Two figures, measured once per invocation, before the runs:

* `python_ms`: the best of `PYTHON_ROUNDS` runs of a fixed pure-Python workload
  (dicts, strings, calls and a sort, as the engine's own code does). The engine's
  time per resource scales with it: with no latency and on the memory store it is
  nearly all Python.
* `write_ms`: the median of `WRITES` durable writes, one after another, through a
  fresh store of the run's kind (an engine heartbeat: one small UPDATE, committed
  and, on SQLite, fsync'd). A legacy walk makes one such commit per resource, so
  it cannot take less than this per resource on that store.

The store's scratch copy lives in a directory of its own in the run's temporary
directory (a SQLite store makes it); it is closed before the runs start.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from storage import EngineRecord, open_store

#: runs of the reference workload; the fastest is kept (the others met a busier host)
PYTHON_ROUNDS = 5
#: records the reference workload builds and sorts
PYTHON_RECORDS = 20_000
#: durable writes timed through the scratch store
WRITES = 200


@dataclass(frozen=True)
class HostFigures:
    """The host's speed when the runs started (see the module's docstring)."""

    python_ms: float
    write_ms: float

    def figures(self) -> dict[str, Any]:
        return {"host_python_ms": round(self.python_ms, 2),
                "host_write_ms": round(self.write_ms, 4)}

    def line(self) -> str:
        return (f"host: reference Python workload {self.python_ms:.1f} ms (best of "
                f"{PYTHON_ROUNDS}), one durable store write {self.write_ms:.3f} ms "
                f"(median of {WRITES})")


async def measure_host(store_url: str) -> HostFigures:
    """The figures, with `store_url` a fresh store of the run's kind (for SQLite, a file in
    a scratch directory of the run's own)."""
    python_ms = min(_timed_ms(_reference_workload) for _ in range(PYTHON_ROUNDS))
    store = await open_store(store_url)
    try:
        now = time.time()
        engine = EngineRecord(id="host-probe", host="localhost", pid=0, started_at=now,
                              heartbeat_at=now)
        await store.register_engine(engine)
        times = []
        for beat in range(WRITES):
            started = time.perf_counter()
            await store.heartbeat(engine.id, now + beat)
            times.append(time.perf_counter() - started)
    finally:
        await store.close()
    return HostFigures(python_ms=python_ms, write_ms=statistics.median(times) * 1000)


def _timed_ms(work: Any) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def _reference_workload() -> int:
    records: dict[str, dict[str, Any]] = {}
    for index in range(PYTHON_RECORDS):
        name = f"r{index:05d}"
        records[name] = {"name": name, "index": index, "tags": [name, str(index % 97)]}
    total = 0
    for name, record in sorted(records.items(), key=lambda item: item[1]["tags"][1]):
        total += len(record["tags"]) + record["index"] % 7 + len(name)
    return total
