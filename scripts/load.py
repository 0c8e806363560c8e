"""Load script: create, update and delete a generated stack in-process and time each step.

Run `python scripts/load.py --help` for the options. Each run prints a table
and, with `--json`, one JSON line per operation, e.g.

    python scripts/load.py --size 1000 --store sqlite --shape flat --path convergence

The update step changes a property of every resource (`OS::Heat::None` takes
any property and updates it in place), so it exercises a full in-place update.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors import default_registry
from storage import open_store
from supervisor import stacks
from supervisor.config import Config
from supervisor.engine import running_engine
from supervisor.inputs import Inputs
from supervisor.logging import configure_logging

SHAPES = ("flat", "chain")


@dataclass(frozen=True)
class Measurement:
    operation: str
    shape: str
    size: int
    store: str
    backend: str
    path: str
    seconds: float
    status: str
    peak_rss_mib: float

    def as_dict(self) -> dict[str, Any]:
        per = self.seconds / self.size if self.size else 0.0
        return {**self.__dict__, "ms_per_resource": round(per * 1000, 3),
                "resources_per_second": round(self.size / self.seconds, 1)}


def template(shape: str, size: int, generation: int) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for i in range(size):
        definition: dict[str, Any] = {"type": "OS::Heat::None",
                                      "properties": {"generation": generation}}
        if shape == "chain" and i:
            definition["depends_on"] = f"r{i - 1:05d}"
        resources[f"r{i:05d}"] = definition
    return {"heat_template_version": "2021-04-16", "resources": resources}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(args: argparse.Namespace, db_dir: Path) -> list[Measurement]:
    url = "memory://" if args.store == "memory" else f"sqlite:///{db_dir / 'load.db'}"
    store = await open_store(url)
    config = Config(db=url, max_resources_per_stack=max(args.size, 20_000))
    results: list[Measurement] = []

    def record(operation: str, started: float, status: str) -> None:
        results.append(Measurement(operation, args.shape, args.size, args.store, args.backend,
                                   args.path, time.perf_counter() - started, status,
                                   peak_rss_mib()))

    try:
        async with running_engine(store, default_registry(), config) as engine:
            started = time.perf_counter()
            options = stacks.CreateOptions(convergence=args.path == "convergence")
            stack = await stacks.create_stack(
                engine, "load", Inputs(template(args.shape, args.size, 1)), options)
            record("create", started, f"{stack.action}_{stack.status}")
            started = time.perf_counter()
            stack = await stacks.update_stack(
                engine, "load", Inputs(template(args.shape, args.size, 2)))
            record("update", started, f"{stack.action}_{stack.status}")
            started = time.perf_counter()
            stack = await stacks.delete_stack(engine, "load")
            record("delete", started, f"{stack.action}_{stack.status}")
    finally:
        await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="resources in the stack")
    parser.add_argument("--shape", choices=SHAPES, default="flat",
                        help="flat: no dependencies; chain: each depends on the previous")
    parser.add_argument("--store", choices=("memory", "sqlite"), default="sqlite",
                        help="store backend (sqlite uses a temporary file)")
    parser.add_argument("--backend", choices=("trio", "asyncio"), default="trio",
                        help="anyio backend")
    parser.add_argument("--path", choices=("legacy", "convergence"), default="legacy",
                        help="engine path of the stack (legacy: one supervisor coroutine; "
                             "convergence: node actors, state in the store)")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()
    configure_logging("json", "warning")
    with tempfile.TemporaryDirectory() as tmp:
        results = anyio.run(run, args, Path(tmp), backend=args.backend)
    for measurement in results:
        row = measurement.as_dict()
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['operation']:>6}  {row['path']}  {row['store']:>6}  {row['shape']:>5} "
                  f"{row['size']:>6}  {row['seconds']:8.3f} s  {row['ms_per_resource']:7.3f} "
                  f"ms/res  {row['resources_per_second']:9.1f} res/s  {row['status']}  "
                  f"peak {row['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
