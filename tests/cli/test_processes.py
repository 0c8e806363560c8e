"""Several real `convergent` processes on one SQLite file: the stack lock, cancel from another
process, an engine killed with SIGKILL, `stack wait`, and `convergent engine`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SCRIPT = str(Path(sys.executable).parent / "convergent")

SLOW = """
heat_template_version: 2021-04-16
resources:
  quick: {type: OS::Heat::None}
  slow:
    type: OS::Heat::TestResource
    depends_on: quick
    properties: {wait_secs: %s}
"""


class Processes:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONVERGENT_")}
        self.env["CONVERGENT_DB"] = f"sqlite:///{tmp_path / 'state.db'}"
        self.started: list[subprocess.Popen[str]] = []
        #: (stdout, stderr) tails of the started processes, once closed
        self.outputs: dict[int, tuple[str, str]] = {}

    def template(self, wait_secs: float) -> str:
        path = self.tmp / f"slow-{wait_secs}.yaml"
        path.write_text(SLOW % wait_secs)
        return str(path)

    def start(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen([SCRIPT, *args], cwd=self.tmp, env=self.env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started.append(process)
        return process

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SCRIPT, *args], cwd=self.tmp, env=self.env, text=True,
                              capture_output=True, timeout=60, check=False)

    def show(self, name: str) -> dict[str, Any]:
        result = self.run("stack", "show", name, "-f", "json")
        assert result.returncode == 0, result.stderr
        shown: dict[str, Any] = json.loads(result.stdout)
        return shown

    def wait_until_in_progress(self, name: str, resource: str) -> None:
        deadline = time.monotonic() + 30
        result = None
        while time.monotonic() < deadline:
            result = self.run("stack", "resource", "list", name, "-f", "json")
            if result.returncode == 0:
                states = {r["resource_name"]: r["resource_status"]
                          for r in json.loads(result.stdout)}
                if states.get(resource) == "CREATE_IN_PROGRESS":
                    return
            time.sleep(0.1)
        self.close()  # so that their output can be shown
        raise AssertionError(
            f"{resource} of {name} never became CREATE_IN_PROGRESS; last listing: "
            f"{result and (result.returncode, result.stdout[-500:], result.stderr[-500:])}; "
            f"started: {[(p.args, p.returncode, self.outputs.get(p.pid)) for p in self.started]}")

    def close(self) -> None:
        for process in self.started:
            if process.pid in self.outputs:
                continue
            if process.poll() is None:
                process.kill()
            out, err = process.communicate()
            self.outputs[process.pid] = ((out or "")[-500:], (err or "")[-1500:])


@pytest.fixture
def procs(tmp_path: Path) -> Any:
    processes = Processes(tmp_path)
    yield processes
    processes.close()


def test_lock_refuses_a_second_process_and_cancel_works_across_processes(
        procs: Processes) -> None:
    creator = procs.start("stack", "create", "s", "-t", procs.template(60))
    procs.wait_until_in_progress("s", "slow")

    second = procs.run("stack", "update", "s", "-t", procs.template(0))
    assert second.returncode == 3
    assert "CREATE_IN_PROGRESS" in second.stderr and len(second.stderr.splitlines()) == 1

    cancel = procs.run("stack", "cancel", "s")
    assert cancel.returncode == 0, cancel.stderr
    _, err = creator.communicate(timeout=30)
    assert creator.returncode == 1, err
    shown = procs.show("s")
    assert (shown["stack_status"], shown["stack_status_reason"]) == ("CREATE_FAILED", "cancelled")


def test_a_killed_engines_stack_is_reported_failed_and_can_be_deleted(procs: Processes) -> None:
    creator = procs.start("stack", "create", "s", "-t", procs.template(60))
    procs.wait_until_in_progress("s", "slow")
    creator.send_signal(signal.SIGKILL)
    creator.communicate(timeout=10)

    shown = procs.show("s")
    assert shown["stack_status"] == "CREATE_FAILED"
    assert shown["stack_status_reason"] == "Engine went down during stack CREATE"
    resources = json.loads(procs.run("stack", "resource", "list", "s", "-f", "json").stdout)
    assert {r["resource_name"]: r["resource_status"] for r in resources} == {
        "quick": "CREATE_COMPLETE", "slow": "CREATE_FAILED"}
    deleted = procs.run("stack", "delete", "s", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert procs.run("stack", "show", "s").returncode == 2


def test_stack_wait_follows_another_process_to_the_end(procs: Processes) -> None:
    creator = procs.start("stack", "create", "s", "-t", procs.template(1.5))
    procs.wait_until_in_progress("s", "slow")
    waited = procs.run("stack", "wait", "s", "-f", "json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["stack_status"] == "CREATE_COMPLETE"
    assert "[slow]: CREATE_COMPLETE" in waited.stderr
    creator.communicate(timeout=30)
    assert creator.returncode == 0


def test_engine_reports_orphans_and_stops_on_sigterm(procs: Processes) -> None:
    creator = procs.start("stack", "create", "s", "-t", procs.template(60))
    procs.wait_until_in_progress("s", "slow")
    creator.send_signal(signal.SIGKILL)
    creator.communicate(timeout=10)

    engine = procs.start("engine", "--interval", "0.1")
    probe = (
        "import anyio, sys\n"
        "from storage import open_store\n"
        "async def main():\n"
        "    store = await open_store(sys.argv[1])\n"
        "    for _ in range(300):\n"
        "        stack = await store.get_stack('s')\n"
        "        if stack.status.value == 'FAILED':\n"
        "            print(stack.reason); return\n"
        "        await anyio.sleep(0.1)\n"
        "anyio.run(main)\n"
    )
    seen = subprocess.run([sys.executable, "-c", probe, procs.env["CONVERGENT_DB"]],
                          cwd=procs.tmp, capture_output=True, text=True, timeout=60, check=False)
    assert seen.stdout.strip() == "Engine went down during stack CREATE", seen.stderr
    engine.send_signal(signal.SIGTERM)
    _, err = engine.communicate(timeout=30)
    assert engine.returncode == 0 and "stopping (SIGTERM)" in err
