"""Markdown tables from `load.py --json` lines: `python -m scripts.loadgen.summary FILE...`.

Prints the host's figures (their medians), the headline table (1,000 flat on
SQLite: the median wall time of each operation per path, with and without outside
effects), the 10,000-against-1,000 scaling table (time per resource at each size
and their ratio, the median of repeated runs, OS::Heat::None only) and one row per
other run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

Line = dict[str, Any]
#: the ratio of time per resource at 10,000 to 1,000 the issue allows
SCALING_LIMIT = 1.3


def read(paths: Iterable[str]) -> list[Line]:
    lines: list[Line] = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            lines.extend(json.loads(text) for text in handle if text.strip())
    return lines


def headline_rows(lines: list[Line]) -> Iterator[str]:
    """One row per (path, outside effects): 1,000 flat resources on SQLite, no latency."""
    walls: dict[tuple[str, bool], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line in lines:
        if (line["size"], line["shape"], line["store"], line["stacks"]) == (1000, "flat",
                                                                            "sqlite", 1) \
                and not line["latency"] and not line.get("replace"):
            walls[(line["path"], bool(line.get("outside")))][line["operation"]].append(
                line["wall_s"])
    yield "| path | resources | create s | update s | delete s | runs |"
    yield "|---|---|---:|---:|---:|---:|"
    for (path, outside), by_op in sorted(walls.items()):
        cells = [_spread(by_op.get(op, [])) for op in ("create", "update", "delete")]
        kind = "TestResource (outside effects)" if outside else "OS::Heat::None"
        yield (f"| {path} | {kind} | {' | '.join(cells)} "
               f"| {max(len(runs) for runs in by_op.values())} |")


def _spread(walls: list[float]) -> str:
    """`median (min-max)` of `walls`, or "-" without any."""
    if not walls:
        return "-"
    return f"{statistics.median(walls):.3f} ({min(walls):.3f}-{max(walls):.3f})"


def scaling_rows(lines: list[Line]) -> Iterator[str]:
    """One row per (store, path, shape, operation) measured at both 1,000 and 10,000."""
    walls: dict[tuple[str, ...], dict[int, list[Line]]] = defaultdict(lambda: defaultdict(list))
    for line in lines:
        if line.get("outside"):
            continue
        if line["stacks"] == 1 and not line["latency"] and line["size"] in (1000, 10000):
            key: tuple[str, ...] = (line["store"], line["path"], line["shape"],
                                    line["operation"])
            walls[key][line["size"]].append(line)
    yield ("| store | path | shape | op | ms/res at 1k | ms/res at 10k | 10k / 1k "
           "| stmts/res | peak RSS at 10k |")
    yield "|---|---|---|---|---:|---:|---:|---:|---:|"
    for key in sorted(walls):
        small, large = walls[key][1000], walls[key][10000]
        if not small or not large:
            continue
        per_small = statistics.median(line["wall_s"] for line in small)
        per_large = statistics.median(line["wall_s"] for line in large) / 10
        ratio = per_large / per_small
        flag = " (over)" if ratio > SCALING_LIMIT else ""
        statements = large[0]["statements_per_resource"]
        shown = "-" if statements is None else f"{statements:.1f}"
        yield (f"| {' | '.join(key)} | {per_small:.3f} | {per_large:.3f} | {ratio:.2f}{flag} "
               f"| {shown} | {max(line['peak_rss_mib'] for line in large):.0f} MiB |")


def other_rows(lines: list[Line]) -> Iterator[str]:
    """Runs with latency, several stacks, or a supersede."""
    yield ("| path | store | shape | size x stacks | latency | op | wall s | crit. path s "
           "| wall / crit. | start s | rest / crit. | peak RSS | status |")
    yield "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|"
    for line in lines:
        if not (line["latency"] or line["stacks"] > 1 or line["operation"] == "supersede"):
            continue
        yield (f"| {line['path']} | {line['store']} | {line['shape']} "
               f"| {line['size']} x {line['stacks']} | {line['latency']} | {line['operation']} "
               f"| {line['wall_s']:.2f} | {line['critical_path_s']:.2f} "
               f"| {_shown(line.get('makespan_ratio'), '.2f')} "
               f"| {_shown(line.get('startup_s'), '.3f')} "
               f"| {_shown(line.get('after_startup_ratio'), '.2f')} "
               f"| {line['peak_rss_mib']:.0f} MiB | {line['status']} |")


def _shown(value: float | None, form: str) -> str:
    """A figure in `form`, or "-" when the line has none (older lines have no start-up)."""
    return "-" if value is None else format(value, form)


def host_line(lines: list[Line]) -> str | None:
    """The median of the host figures the lines carry (lines older than them have none)."""
    measured = [line for line in lines if line.get("host_python_ms") is not None]
    if not measured:
        return None
    python_ms = statistics.median(line["host_python_ms"] for line in measured)
    writes: dict[str, list[float]] = defaultdict(list)
    for line in measured:
        writes[line["store"]].append(line["host_write_ms"])
    shown = ", ".join(f"{store} {statistics.median(ms):.3f} ms"
                      for store, ms in sorted(writes.items()))
    return (f"Host, median over {len(measured)} lines: reference Python workload "
            f"{python_ms:.1f} ms; one durable store write: {shown}.")


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("summary: error: give one or more files of load.py --json lines")
    try:
        lines = read(argv)
    except OSError as err:
        sys.exit(f"summary: error: cannot read {err.filename}: {err.strerror}")
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        sys.exit(f"summary: error: not load.py --json lines: {err}")
    host = host_line(lines)
    parts = [] if host is None else [host]
    parts += ["\n".join(rows(lines)) for rows in (headline_rows, scaling_rows, other_rows)]
    try:
        print("\n\n".join(parts))
    except BrokenPipeError:
        # the reader stopped early (`| head`): keep Python from failing again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main(sys.argv[1:])
