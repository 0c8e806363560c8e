"""Convergence stacks driven by real `convergent` processes on one SQLite file.

Every command is the installed `convergent` script in its own process, with the
`Test::Marker` actor of `process_actors` loaded by `--plugin`: each physical
resource is a marker file named after its create's idempotency key, and every
actor call is appended to a journal shared by all processes. After a run the
tests compare three views: the store (`stack resource list`, `show`, outputs),
the marker directory (what exists), and the journal, replayed to check the
ordering guarantees of `guarantees.py` across processes (a create or update
uses only physical resources that exist and are not being deleted, a delete
waits until nothing references its resource, calls on one resource never
overlap, no marker is made twice).

* `test_sigkill_during_create_then_wait_creates_everything_exactly_once`: a
  layered DAG of 250 resources is being created when the process gets SIGKILL
  (gated on the journal and a seeded delay, so the kill lands early, midway or
  late); `stack wait` from a new process must finish the create, with one
  marker per resource and nothing else, the stored physical ids equal to the
  markers, and every input resolved from the final physical ids of its
  dependencies.
* `test_update_from_a_second_process_supersedes_a_create_in_progress`: process
  A creates resources (fast groups and slow groups); once the fast groups
  exist, process B updates the stack to a template that keeps, updates in
  place, replaces, removes and adds resources. Both return 0 with
  UPDATE_COMPLETE, the stack matches B's template and no physical resource
  leaked.

Engine settings are small through the environment (`CONVERGENT_ENGINE_TIMEOUT`,
`CONVERGENT_HEARTBEAT_INTERVAL`), and every wait on a process has a timeout, so
a hang fails the test instead of blocking the run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.scenarios.process_actors import TYPE_NAME, marker_name

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(sys.executable).parent / "convergent")
PLUGIN = "tests.scenarios.process_actors"
#: timeout of every command that should return promptly
COMMAND_TIMEOUT = 60.0


@dataclass
class Physical:
    """One physical resource (marker) as the journal tells its story."""

    resource: str
    created: bool = False
    deleted: bool = False
    deleting: bool = False
    inputs: tuple[str, ...] = ()
    value: Any = None
    #: pid of the process whose call on it is in progress
    busy: int | None = None


@dataclass
class Journal:
    """The actor's journal (JSON lines, in the order the calls happened, all processes)."""

    path: Path

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        # a process may be appending a line as we read: only whole lines count
        whole = self.path.read_text().rpartition("\n")[0]
        return [json.loads(line) for line in whole.splitlines()]

    def count(self, op: str, phase: str) -> Counter[str]:
        return Counter(e["resource"] for e in self.entries()
                       if (e["op"], e["phase"]) == (op, phase))

    def made(self) -> Counter[str]:
        """Per resource name, how many creates wrote a new marker."""
        return self.count("create", "made")

    def pids(self) -> set[int]:
        return {e["pid"] for e in self.entries()}

    def replay(self, dead: frozenset[int] = frozenset()) -> dict[str, Physical]:
        """Check the ordering guarantees (`guarantees.py`) across processes; returns the
        physical resources by id. A call left unfinished by a process in `dead` (killed)
        does not overlap the calls after it."""
        physical: dict[str, Physical] = {}
        violations: list[str] = []
        for e in self.entries():
            op, phase, ident, pid = e["op"], e["phase"], e["id"], e["pid"]
            res = physical.setdefault(ident, Physical(e["resource"]))
            what = f"{op} {e['resource']} ({ident}) by {pid}"
            if phase == "start":
                if res.busy is not None and res.busy not in dead:
                    violations.append(f"3: {what} overlaps a call by {res.busy}")
                res.busy = pid
                if op in ("create", "update"):
                    for ref in _refs(e["inputs"]):
                        dep = physical.get(ref)
                        if dep is None or not dep.created:
                            violations.append(f"1: {what} uses {ref} before it was created")
                        elif dep.deleting:
                            violations.append(f"1: {what} uses {ref} while it is deleted")
                elif op == "delete":
                    res.deleting = True
                    users = [f"{o.resource} ({oid})" for oid, o in physical.items()
                             if oid != ident and o.created and ident in o.inputs]
                    if users:
                        violations.append(f"2: {what} while {users} still reference it")
                continue
            res.busy = None
            if phase == "failed":
                res.deleting = False
            elif op == "create":
                if phase == "made" and (res.created or res.deleted):
                    violations.append(f"4: {what} made a second time")
                res.created, res.inputs, res.value = True, _refs(e["inputs"]), e["value"]
            elif op == "update":
                res.inputs, res.value = _refs(e["inputs"]), e["value"]
            elif op == "delete":
                res.created, res.deleting, res.deleted = False, False, True
        assert not violations, "\n".join(violations)
        return physical


def _refs(inputs: Any) -> tuple[str, ...]:
    values = inputs if isinstance(inputs, list) else [inputs]
    return tuple(str(v) for v in values if v is not None)


class Processes:
    """`convergent` commands on one SQLite file in `tmp_path`, with the marker plugin."""

    def __init__(self, tmp_path: Path, engine_timeout: float, heartbeat: float) -> None:
        self.tmp = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONVERGENT_")}
        self.env.update({
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [
                os.environ.get("PYTHONPATH")])]),
            "CONVERGENT_ENGINE_TIMEOUT": str(engine_timeout),
            "CONVERGENT_HEARTBEAT_INTERVAL": str(heartbeat),
            "CONVERGENT_POLL_INTERVAL": "0.05",
        })
        self.db = f"sqlite:///{tmp_path / 'state.db'}"
        self.started: list[subprocess.Popen[str]] = []

    def argv(self, *args: str) -> list[str]:
        return [SCRIPT, "--db", self.db, "--plugin", PLUGIN, *args]

    def start(self, label: str, *args: str) -> subprocess.Popen[str]:
        """Start a command in the background; its output goes to files (a full pipe would
        block it while the test is polling)."""
        out = (self.tmp / f"{label}.out").open("w")
        err = (self.tmp / f"{label}.err").open("w")
        with out, err:
            process = subprocess.Popen(self.argv(*args), cwd=self.tmp, env=self.env, text=True,
                                       stdout=out, stderr=err)
        self.started.append(process)
        return process

    def output(self, label: str) -> tuple[str, str]:
        return ((self.tmp / f"{label}.out").read_text(),
                (self.tmp / f"{label}.err").read_text())

    def finish(self, label: str, process: subprocess.Popen[str],
               timeout: float = COMMAND_TIMEOUT) -> tuple[int, str, str]:
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            out, err = self.output(label)
            raise AssertionError(f"{label} still running after {timeout}s; stderr tail:\n"
                                 f"{err[-3000:]}") from None
        out, err = self.output(label)
        return code, out, err

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), cwd=self.tmp, env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "-f", "json")
        assert result.returncode == 0, (args, result.returncode, result.stderr[-3000:])
        return json.loads(result.stdout)

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


def marker_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Marker name -> content (dot files are the actor's temporary files, not resources)."""
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.iterdir())
            if not p.name.startswith(".")}


def marker(markers: Path, journal: Path, value: Any = None, *, fixed: str = "",
           delay: float = 0.0, deps: tuple[str, ...] = ()) -> dict[str, Any]:
    props: dict[str, Any] = {"dir": str(markers), "journal": str(journal),
                             "inputs": [{"get_resource": d} for d in deps]}
    if value is not None:
        props["value"] = value
    if fixed:
        props["fixed"] = fixed
    if delay:
        props["delay"] = delay
    return {"type": TYPE_NAME, "properties": props}


def write_template(path: Path, resources: Mapping[str, Any],
                   outputs: Mapping[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"heat_template_version": "2021-04-16", "resources": dict(resources)}
    if outputs:
        doc["outputs"] = dict(outputs)
    path.write_text(yaml.safe_dump(doc, sort_keys=True))
    return str(path)


def deps_of(resources: Mapping[str, Any]) -> dict[str, list[str]]:
    return {name: [i["get_resource"] for i in r["properties"]["inputs"]]
            for name, r in resources.items()}


def check_physical_resources(procs: Processes, stack: str, markers: Path,
                             resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The store's resources are exactly the template's, each with its own marker, and the
    markers are exactly the store's physical ids; returns name -> marker content."""
    listed = procs.json("stack", "resource", "list", stack)
    assert sorted(r["resource_name"] for r in listed) == sorted(resources)
    not_complete = {r["resource_name"]: (r["resource_status"], r["resource_status_reason"])
                    for r in listed if not r["resource_status"].endswith("_COMPLETE")}
    assert not not_complete, not_complete
    physical = {r["resource_name"]: r["physical_resource_id"] for r in listed}
    files = marker_files(markers)
    assert len(set(physical.values())) == len(physical), "two resources share a physical id"
    assert set(physical.values()) == set(files), (
        f"markers without a resource: {sorted(set(files) - set(physical.values()))}; "
        f"resources without a marker: "
        f"{sorted(n for n, p in physical.items() if p not in files)}")
    by_name: dict[str, dict[str, Any]] = {}
    for name, pid in physical.items():
        content = files[pid]
        assert content["resource"] == name and content["stack"] == stack, (name, content)
        assert marker_name(content["key"]) == pid and content["key"].endswith(":create")
        by_name[name] = content
    # every input was resolved from the final physical ids of the dependencies
    for name, deps in deps_of(resources).items():
        assert by_name[name]["inputs"] == [physical[d] for d in deps], name
    return by_name


# 1. SIGKILL during a create, then `stack wait` from a new process

LAYERS, WIDTH, FAN_IN = 10, 25, 2
CREATE_DELAY = 0.05
#: per trial: (seed, the fraction of resources made before the kill is armed)
TRIALS = [(11, (0.02, 0.15)), (23, (0.35, 0.6)), (37, (0.75, 0.9))]


def layered_dag(markers: Path, journal: Path, rng: random.Random) -> dict[str, Any]:
    """LAYERS x WIDTH resources; each one past the first layer depends on FAN_IN resources
    of the layer before and, now and then, on one two layers before."""
    resources: dict[str, Any] = {}
    for layer in range(LAYERS):
        for i in range(WIDTH):
            deps: list[str] = []
            if layer:
                deps = [f"r{layer - 1:02d}x{j:02d}"
                        for j in sorted(rng.sample(range(WIDTH), FAN_IN))]
            if layer >= 2 and rng.random() < 0.2:
                deps.append(f"r{layer - 2:02d}x{rng.randrange(WIDTH):02d}")
            name = f"r{layer:02d}x{i:02d}"
            resources[name] = marker(markers, journal, name, delay=CREATE_DELAY,
                                     deps=tuple(deps))
    return resources


@pytest.mark.slow
@pytest.mark.timeout(100)
@pytest.mark.parametrize(("seed", "window"), TRIALS, ids=["early", "midway", "late"])
def test_sigkill_during_create_then_wait_creates_everything_exactly_once(
        tmp_path: Path, markers: Path, seed: int, window: tuple[float, float]) -> None:
    rng = random.Random(seed)
    journal = Journal(tmp_path / "journal")
    resources = layered_dag(markers, journal.path, rng)
    total = len(resources)
    template = write_template(tmp_path / "dag.yaml", resources)
    procs = Processes(tmp_path, engine_timeout=2.0, heartbeat=0.25)
    try:
        creator = procs.start("create", "stack", "create", "dag", "-t", template,
                              "--convergence", "-f", "json")
        armed_at = int(total * rng.uniform(*window))
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while journal.made().total() < armed_at:
            assert creator.poll() is None, ("the create ended before the kill",
                                            procs.output("create")[1][-3000:])
            assert time.monotonic() < deadline, f"fewer than {armed_at} creates in time"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))
        creator.send_signal(signal.SIGKILL)
        # reaped at once: the waiter sees that the engine's process is gone
        assert creator.wait(timeout=10) == -signal.SIGKILL
        assert journal.made().total() < total, "the kill landed after every create"

        waited = procs.start("wait", "stack", "wait", "dag", "-f", "json")
        code, out, err = procs.finish("wait", waited)
        assert code == 0, err[-3000:]
        assert "Traceback" not in err
        assert json.loads(out)["stack_status"] == "CREATE_COMPLETE", out

        shown = procs.json("stack", "show", "dag")
        assert (shown["stack_status"], shown["convergence"]) == ("CREATE_COMPLETE", True), shown
        check_physical_resources(procs, "dag", markers, resources)

        # the journal agrees: the ordering guarantees held across the two processes, every
        # resource has exactly one physical resource (the killed process's unfinished
        # creates were repeated with their key, not made anew), nothing was updated or
        # deleted, and the waiter did part of the work
        physical = journal.replay(dead=frozenset({creator.pid}))
        live = Counter(p.resource for p in physical.values() if p.created)
        assert live == Counter(list(resources)), live - Counter(list(resources))
        assert max(journal.made().values()) == 1
        assert not journal.count("delete", "start") and not journal.count("update", "start")
        assert journal.pids() == {creator.pid, waited.pid}
        assert any(e["pid"] == waited.pid and e["phase"] == "made"
                   for e in journal.entries()), "the waiter created nothing"
    finally:
        procs.close()


# 2. An update from process B supersedes the create of process A

#: seconds per call in each group: the fast groups are fully created before B starts,
#: the slow ones are being created when B's update supersedes A's create
GROUP_DELAYS = (0.02, 0.02, 0.25, 0.25, 0.5, 0.5)
FAST_GROUPS = (0, 1)


def version_one(markers: Path, journal: Path) -> dict[str, Any]:
    """Per group g: a -> b -> c -> d -> e, and x (fed by a) that d also depends on."""
    resources: dict[str, Any] = {}
    for g, delay in enumerate(GROUP_DELAYS):
        resources[f"a{g}"] = marker(markers, journal, f"a{g}", delay=delay)
        resources[f"b{g}"] = marker(markers, journal, f"b{g}", delay=delay, deps=(f"a{g}",))
        resources[f"c{g}"] = marker(markers, journal, f"c{g}", fixed="one", delay=delay,
                                    deps=(f"b{g}",))
        resources[f"x{g}"] = marker(markers, journal, f"x{g}", delay=delay, deps=(f"a{g}",))
        resources[f"d{g}"] = marker(markers, journal, f"d{g}", delay=delay,
                                    deps=(f"c{g}", f"x{g}"))
        resources[f"e{g}"] = marker(markers, journal, f"e{g}", delay=delay, deps=(f"d{g}",))
    return resources


def version_two(markers: Path, journal: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """a kept; b updated in place (value); c replaced (a fixed property); d updated in place
    (its inputs: c's new physical id, and x dropped); x and e removed; n added, fed by b's
    new value."""
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for g, delay in enumerate(GROUP_DELAYS):
        resources[f"a{g}"] = marker(markers, journal, f"a{g}", delay=delay)
        resources[f"b{g}"] = marker(markers, journal, f"b{g}-v2", delay=delay, deps=(f"a{g}",))
        resources[f"c{g}"] = marker(markers, journal, f"c{g}", fixed="two", delay=delay,
                                    deps=(f"b{g}",))
        resources[f"d{g}"] = marker(markers, journal, f"d{g}", delay=delay, deps=(f"c{g}",))
        added = marker(markers, journal, delay=delay, deps=(f"d{g}", f"c{g}"))
        added["properties"]["value"] = {"list_join": ["+", [{"get_attr": [f"b{g}", "value"]},
                                                            f"n{g}"]]}
        resources[f"n{g}"] = added
        outputs[f"n{g}_value"] = {"value": {"get_attr": [f"n{g}", "value"]}}
        outputs[f"c{g}_id"] = {"value": {"get_resource": f"c{g}"}}
    return resources, outputs


@pytest.mark.slow
@pytest.mark.timeout(100)
def test_update_from_a_second_process_supersedes_a_create_in_progress(
        tmp_path: Path, markers: Path) -> None:
    journal = Journal(tmp_path / "journal")
    first = version_one(markers, journal.path)
    second, second_outputs = version_two(markers, journal.path)
    t1 = write_template(tmp_path / "v1.yaml", first)
    t2 = write_template(tmp_path / "v2.yaml", second, second_outputs)
    procs = Processes(tmp_path, engine_timeout=3.0, heartbeat=0.3)
    try:
        creator = procs.start("a", "stack", "create", "s", "-t", t1, "--convergence",
                              "-f", "json")
        # B starts once the fast groups are fully created (A is still busy with the others)
        fast = {f"{r}{g}" for g in FAST_GROUPS for r in "abcdex"}
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not fast <= set(journal.made()):
            assert creator.poll() is None, procs.output("a")[1][-3000:]
            assert time.monotonic() < deadline, "process A did not create the fast groups"
            time.sleep(0.01)
        assert creator.poll() is None, "process A finished before B started"
        updater = procs.start("b", "stack", "update", "s", "-t", t2, "-f", "json")

        code_b, out_b, err_b = procs.finish("b", updater)
        code_a, out_a, err_a = procs.finish("a", creator)
        assert (code_a, code_b) == (0, 0), (err_a[-3000:], err_b[-3000:])
        for err in (err_a, err_b):
            assert "Traceback" not in err and "error:" not in err, err[-3000:]
        # A's create was superseded: A reports the state B's update left the stack in,
        # and printed B's events as they happened
        assert json.loads(out_a)["stack_status"] == "UPDATE_COMPLETE", out_a
        for line in ("[s]: UPDATE_IN_PROGRESS", "[s]: UPDATE_COMPLETE"):
            assert line in err_a, err_a[-3000:]
        assert err_a.count("[s]: CREATE_IN_PROGRESS") == 1, err_a[-3000:]
        assert json.loads(out_b)["stack_status"] == "UPDATE_COMPLETE", out_b

        shown = procs.json("stack", "show", "s")
        assert shown["stack_status"] == "UPDATE_COMPLETE", shown
        events = procs.json("stack", "event", "list", "s", "--resource", "s")
        stack_states = [e["resource_status"] for e in events]
        assert "CREATE_COMPLETE" not in stack_states, \
            f"B started after A's create had finished: {stack_states}"
        assert stack_states[-1] == "UPDATE_COMPLETE", stack_states

        # the stack matches B's template: resources, properties, outputs, stored template
        physical = check_physical_resources(procs, "s", markers, second)
        outputs = {o["output_key"]: o["output_value"] for o in shown["outputs"]}
        for g in range(len(GROUP_DELAYS)):
            assert physical[f"a{g}"]["value"] == f"a{g}"
            assert physical[f"b{g}"]["value"] == f"b{g}-v2"
            assert physical[f"c{g}"]["fixed"] == "two"
            assert physical[f"d{g}"]["value"] == f"d{g}"
            assert physical[f"n{g}"]["value"] == f"b{g}-v2+n{g}"
            assert outputs[f"n{g}_value"] == f"b{g}-v2+n{g}"
            assert outputs[f"c{g}_id"] == marker_name(physical[f"c{g}"]["key"])
        shown_c = procs.json("stack", "resource", "show", "s", "c0")
        assert shown_c["properties"]["fixed"] == "two"
        assert shown_c["physical_resource_id"] == outputs["c0_id"]
        assert sorted(shown_c["required_by"]) == ["d0", "n0"]
        template = procs.run("stack", "template", "show", "s", "-f", "json")
        assert template.returncode == 0, template.stderr
        assert json.loads(template.stdout)["resources"] == second

        # no leak, no duplicate: the ordering guarantees held across both processes, the
        # live markers are exactly B's resources, every marker ever made is live or was
        # deleted, and only a replaced resource (c) had a second physical resource
        physical_log = journal.replay()
        live = Counter(p.resource for p in physical_log.values() if p.created)
        assert live == Counter(list(second)), (live, sorted(second))
        made, removed = journal.made(), journal.count("delete", "removed")
        for name in sorted(set(first) | set(second)):
            assert made[name] - removed[name] == (1 if name in second else 0), \
                (name, made[name], removed[name])
            assert made[name] <= (2 if name.startswith("c") else 1), (name, made[name])
        for g in FAST_GROUPS:
            # created by A before B started: c replaced, x and e deleted, b and d updated
            assert (made[f"c{g}"], removed[f"c{g}"]) == (2, 1)
            assert removed[f"x{g}"] == removed[f"e{g}"] == 1
            assert journal.count("update", "end")[f"b{g}"] == 1
            assert journal.count("update", "end")[f"d{g}"] == 1
        assert journal.pids() <= {creator.pid, updater.pid}
    finally:
        procs.close()
