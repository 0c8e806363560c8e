"""The command line of `scripts/load.py`: options, their checks, and the exit status.

Bad options (or options that do not go together) exit 2 with one line on stderr
(no usage dump, no traceback); a stack operation that does not complete exits 1
after the report.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

import anyio

from scripts.loadgen.graph import SHAPES
from scripts.loadgen.host import HostFigures, measure_host
from scripts.loadgen.measure import OperationResult
from scripts.loadgen.report import failure_lines, show
from scripts.loadgen.runner import run_load
from scripts.loadgen.spec import BACKENDS, DEFAULT_OPERATIONS, OPERATIONS, PATHS, STORES, LoadSpec
from supervisor.errors import ConvergentError
from supervisor.logging import configure_logging

PROG = "load.py"

Number = TypeVar("Number", int, float)

DESCRIPTION = """\
Create, update and delete generated stacks in-process and time each operation.

Each run opens a fresh store and an engine in this process, creates --stacks
stacks (named load-000, load-001, ...) of --size resources each, all at once,
then updates and deletes them all at once. The update changes every resource:
--replace of them are replaced, the others updated in place. The supersede
operation (--ops, convergence path only) overlaps --supersede updates of each
stack, each superseding the one before."""

EPILOG = """\
shapes (resource i is named r00000 + i; "->" reads "depends on"):
  flat     no dependencies
  chain    i -> i-1
  diamond  one root, size-2 middle resources -> root, one sink -> every middle one
  fanin    size-1 independent resources, one sink -> all of them
  fanout   one root, size-1 resources -> root
  tree     i -> (i-1)//branching (a complete tree)
  random   i -> about --density resources drawn uniformly below i (seeded by --seed)

resources: OS::Heat::None when latency is 0, nothing is replaced and --outside is
not given (the cheapest actor, with no outside effects); otherwise
OS::Heat::TestResource with wait_secs = latency, which waits in create, update
and delete, and is replaced when update_replace_value changes.

figures, per run and operation (resources = size x stacks):
  wall s         wall-clock time until every stack settled
  res/s          resources / wall time
  crit. path s   latency x resources on the longest dependency path (a delete walks
                 it backwards: same length); 0 without latency. A replacement
                 creates and deletes, so replacing updates can exceed it.
  engine ms/res  (wall - critical path) / resources: what the engine adds
  wall / crit.   wall / critical path (- without latency)
  start s        start-up: from the operation's start to its first actor call
                 (- without latency)
  rest / crit.   (wall - start-up) / critical path (- without latency)
  peak MiB       peak RSS of this process (ru_maxrss)
  stmts/res      statements the store executed during the operation / resources,
                 read from the store's integer `statements` counter (- without one)
  status         each stack's final state; exit status 1 unless every operation
                 ended *_COMPLETE on every stack

engine configuration: the defaults (max_concurrent_actions 64, so a convergence
worker runs at most 256 nodes at once), except max_resources_per_stack >= size
and, with --latency, max_concurrent_actions = max(64, size x stacks): actions
that wait are then never capped below the graph's width, so the wall time is
measured against the critical path and not against the limiter. (The legacy
path still walks each stack one resource at a time, by design.)

supersede (--ops create,supersede,delete --path convergence --latency 0.05):
  after create (and update, if asked), each stack gets --supersede updates, each to
  a new template generation (every resource changes), called --supersede-interval
  s apart, so each starts while the one before still runs (given enough --latency)
  and supersedes it: starting a traversal purges the superseded one's sync points
  and ready entries. Every call returns once the stack settles, after the last
  update; the stack must end UPDATE_COMPLETE. The table's figures cover the whole
  operation (the critical path is still one update's); a line under the table
  adds (and --json has, null for other ops):
  overlapped       updates called while the stack's previous update still ran
                   (at most (--supersede - 1) x --stacks)
  last_update_s    from calling the last update until its stack settled (the
                   longest over the stacks): should not grow with --supersede
  first_starts_ms  mean time from calling update_stack until the store's
  last_starts_ms   start_traversal returned for that call (the new traversal is
                   current), over the first and the last starts_window updates
                   of every stack (5, or fewer under 10 updates so they differ);
                   it includes waiting for the store behind other writes
  leftover_ready   ready entries of superseded traversals once the stacks settled
                   (from list_ready): 0 when purge works
  leftover_sync_points / sampled_sync_points
                   sync points of superseded traversals still stored once settled,
                   out of up to 5 looked up per superseded traversal: 0 expected

host, measured once before the runs, printed under the table (and on every --json
line), so that runs on different hosts or days can be compared:
  host_python_ms   the fastest of 5 runs of a fixed pure-Python workload: the
                   engine's time per resource scales with it
  host_write_ms    the median of 200 durable writes, one after another, through a
                   fresh store of the run's kind (on SQLite each is fsync'd): the
                   least a legacy walk, one commit per resource, can take per resource

--json prints the same figures ("-" is null) with the parameters, the run and
operation, each stack's status under "statuses" and failed stacks' reasons
under "failures".

examples:
  python scripts/load.py --size 1000 --store sqlite --path convergence
  python scripts/load.py --shape random --size 500 --latency 0.05 --path convergence
  python scripts/load.py --stacks 100 --size 100 --store memory --json
  python scripts/load.py --path convergence --latency 0.05 --ops create,supersede,delete"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def operations(text: str) -> tuple[str, ...]:
    """A comma-separated subset of create,update,supersede,delete that includes create, in that
    order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in OPERATIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {','.join(OPERATIONS)}, got {text!r}")
    if "create" not in names:
        raise argparse.ArgumentTypeError(
            "update, supersede and delete need create (the stacks start empty)")
    return tuple(name for name in OPERATIONS if name in names)


def _number(text: str, kind: Callable[[str], Number]) -> Number:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter)
    shape = parser.add_argument_group("stacks")
    shape.add_argument("--shape", choices=tuple(SHAPES), default="flat",
                       help="dependency graph of each stack (see shapes below)")
    shape.add_argument("--size", type=positive_int, default=1000, help="resources per stack")
    shape.add_argument("--stacks", type=positive_int, default=1,
                       help="stacks operated on concurrently, each of --size resources")
    shape.add_argument("--branching", type=positive_int, default=2,
                       help="children per resource of the tree shape")
    shape.add_argument("--density", type=non_negative_float, default=2.0,
                       help="average dependencies per resource of the random shape")
    shape.add_argument("--seed", type=int, default=1,
                       help="seed of the random shape and of which resources are replaced")
    work = parser.add_argument_group("work")
    work.add_argument("--latency", type=non_negative_float, default=0.0,
                      help="seconds each resource create, update and delete takes")
    work.add_argument("--replace", type=fraction, default=0.0,
                      help="fraction (0 to 1) of resources the update replaces; "
                           "the others are updated in place")
    work.add_argument("--outside", action="store_true",
                      help="use OS::Heat::TestResource even without --latency or --replace: "
                           "an actor with outside effects, whose IN_PROGRESS state the legacy "
                           "walk commits before each call (OS::Heat::None has none, so a run "
                           "of them shares one commit)")
    work.add_argument("--ops", type=operations, default=",".join(DEFAULT_OPERATIONS),
                      help=f"comma-separated operations, run in the order {','.join(OPERATIONS)}; "
                           "all need create, supersede needs --path convergence")
    work.add_argument("--supersede", type=positive_int, default=20, metavar="N",
                      help="updates of each stack the supersede operation overlaps")
    work.add_argument("--supersede-interval", type=non_negative_float, default=0.02,
                      metavar="SECONDS", help="seconds between the supersede operation's updates")
    work.add_argument("--repeat", type=positive_int, default=1,
                      help="runs, each on a fresh store and engine")
    engine = parser.add_argument_group("engine")
    engine.add_argument("--path", choices=PATHS, default="legacy",
                        help="engine path of the stacks (legacy: one supervisor coroutine per "
                             "stack walking its resources one at a time; convergence: node "
                             "actors, state in the store)")
    engine.add_argument("--store", choices=tuple(STORES), default="sqlite",
                        help="store backend (sqlite: a file in a temporary directory)")
    engine.add_argument("--backend", choices=BACKENDS, default="trio", help="anyio backend")
    parser.add_argument("--json", action="store_true",
                        help="print JSON lines only: one object per operation with every "
                             "figure and parameter")
    return parser


def spec_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> LoadSpec:
    if "supersede" in args.ops and args.path != "convergence":
        parser.error("--ops supersede needs --path convergence (a legacy stack refuses an "
                     "update while another is in progress)")
    return LoadSpec(shape=args.shape, size=args.size, stacks=args.stacks, latency=args.latency,
                    replace=args.replace, outside=args.outside, ops=args.ops, path=args.path,
                    store=args.store,
                    backend=args.backend, seed=args.seed, density=args.density,
                    branching=args.branching, repeat=args.repeat, supersede=args.supersede,
                    supersede_interval=args.supersede_interval)


def execute(spec: LoadSpec) -> tuple[list[OperationResult], HostFigures] | None:
    """The host's figures and every run's results, or None after printing the engine errors
    that stopped them."""
    outcome: tuple[list[OperationResult], HostFigures] | None = None
    with tempfile.TemporaryDirectory(prefix="convergent-load-") as workdir:
        try:
            host = anyio.run(measure_host, STORES[spec.store](Path(workdir) / "host"),
                             backend=spec.backend)
            outcome = anyio.run(run_load, spec, Path(workdir), backend=spec.backend), host
        except* ConvergentError as group:
            for error in group.exceptions:
                print(f"{PROG}: {error}", file=sys.stderr)
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    spec = spec_from(parser, args)
    configure_logging("json", "warning")
    outcome = execute(spec)
    if outcome is None:
        return 1
    results, host = outcome
    try:
        show(results, spec, host, as_json=args.json)
    except BrokenPipeError:
        # the reader stopped early (`| head`): keep Python from failing again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    for line in failure_lines(results):
        print(f"{PROG}: {line}", file=sys.stderr)
    return 0 if all(result.ok for result in results) else 1
