#!/usr/bin/env bash
# The performance checks of docs/benchmarks.md, one load.py run after another, as JSON lines.
#
#   bash scripts/acceptance.sh [OUT.jsonl] [PART...]
#
# PARTs (default: all): headline scaling latency concurrent supersede.
# Runs take about 25 minutes in all on a 2-core machine; run nothing else meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benchmarks.jsonl}
shift || true
parts=${*:-headline scaling latency concurrent supersede}
python=${PYTHON:-.venv/bin/python}

load() {
    echo "+ scripts/load.py $*" >&2
    "$python" scripts/load.py --json "$@" >>"$out"
}

for part in $parts; do
    case $part in
    headline)  # 1,000 flat OS::Heat::None on SQLite, both paths, five runs each; then the same
               # with an actor that has outside effects (the legacy walk commits each one)
        for path in convergence legacy; do
            load --size 1000 --store sqlite --path "$path" --repeat 5
        done
        for path in convergence legacy; do
            load --size 1000 --store sqlite --path "$path" --outside --repeat 3
        done ;;
    scaling)  # time per resource at 10,000 against 1,000: every shape, path and store. The
              # 1,000 runs just before and just after the 10,000 one: the host's speed drifts
              # over minutes, and the median of the two (summary) cancels a steady drift
        for store in memory sqlite; do
            for path in convergence legacy; do
                for shape in flat chain diamond fanin fanout tree random; do
                    for size in 1000 10000 1000; do
                        load --size "$size" --shape "$shape" --store "$store" --path "$path"
                    done
                done
            done
        done ;;
    latency)  # random DAG of 500 with 50 ms per action: makespan against the critical path
        for path in convergence legacy; do
            load --size 500 --shape random --latency 0.05 --store memory --path "$path"
        done
        load --size 500 --shape random --latency 0.05 --store sqlite --path convergence ;;
    concurrent)  # 100 stacks of 100 resources at once
        for path in convergence legacy; do
            load --stacks 100 --size 100 --store sqlite --path "$path"
        done ;;
    supersede)  # overlapping updates: 5 against 50 superseded traversals. A chain, so that a
                # superseded update leaves most of its work undone (on a flat stack every node
                # starts at once, and updates 20 ms apart would queue more work than is done)
        for n in 5 50; do
            load --size 50 --shape chain --store sqlite --path convergence --latency 0.05 \
                --ops create,supersede,delete --supersede "$n" --supersede-interval 0.1
        done ;;
    *) echo "unknown part: $part" >&2; exit 2 ;;
    esac
done
