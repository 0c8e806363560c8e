"""The command line contract: JSON field names, exit codes, events, and errors for bad input.

Commands run in-process through click's runner on a real SQLite file, except
the quick-start test, which runs the installed `convergent` script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from supervisor.cli import cli

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.db = f"sqlite:///{tmp_path / 'state.db'}"

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--db", self.db, *args], env=env, catch_exceptions=False)

    def json(self, *args: str) -> object:
        result = self(*args, "-f", "json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


GOOD = """
heat_template_version: 2021-04-16
parameters:
  word: {type: string, default: hi}
  secret: {type: string, default: s3cret, hidden: true}
resources:
  first: {type: OS::Heat::Value, properties: {value: {get_param: word}}}
  second:
    type: OS::Heat::TestResource
    properties: {value: {get_attr: [first, value]}}
outputs:
  out: {value: {get_attr: [second, output]}, description: the word}
"""


def test_create_show_list_and_json_fields(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    shown = run.json("stack", "create", "s1", "-t", str(template), "--tag", "x",
                     "--parameter", "word=yo")
    assert isinstance(shown, dict)
    for key in ("id", "stack_name", "stack_status", "stack_status_reason", "convergence",
                "creation_time", "updated_time", "disable_rollback", "timeout_mins", "tags",
                "parameters", "outputs"):
        assert key in shown
    assert shown["stack_status"] == "CREATE_COMPLETE"
    assert shown["convergence"] is False and shown["disable_rollback"] is True
    assert shown["tags"] == ["x"]
    assert shown["parameters"]["word"] == "yo" and shown["parameters"]["secret"] == "******"
    assert shown["outputs"] == [{"output_key": "out", "output_value": "yo",
                                 "description": "the word"}]
    assert str(shown["creation_time"]).endswith("Z")

    listed = run.json("stack", "list")
    assert isinstance(listed, list) and [s["stack_name"] for s in listed] == ["s1"]
    assert set(listed[0]) == {"id", "stack_name", "stack_status", "convergence",
                              "creation_time", "updated_time"}

    resources = run.json("stack", "resource", "list", "s1")
    assert isinstance(resources, list)
    assert {r["resource_name"] for r in resources} == {"first", "second"}
    assert set(resources[0]) == {"resource_name", "physical_resource_id", "resource_type",
                                 "resource_status", "resource_status_reason", "updated_time"}

    first = run.json("stack", "resource", "show", "s1", "first")
    assert isinstance(first, dict)
    assert first["attributes"] == {"value": "yo"} and first["required_by"] == ["second"]
    assert first["properties"]["value"] == "yo"

    events = run.json("stack", "event", "list", "s1")
    assert isinstance(events, list)
    assert events[0]["resource_name"] == "s1"
    assert events[0]["resource_status"] == "CREATE_IN_PROGRESS"
    assert events[-1]["resource_status"] == "CREATE_COMPLETE"
    assert set(events[0]) == {"id", "resource_name", "physical_resource_id", "resource_status",
                              "resource_status_reason", "event_time"}
    only_first = run.json("stack", "event", "list", "s1", "--resource", "first")
    assert isinstance(only_first, list) and {e["resource_name"] for e in only_first} == {"first"}

    assert run.json("stack", "output", "list", "s1") == [
        {"output_key": "out", "description": "the word"}]
    assert run.json("stack", "output", "show", "s1", "out") == {
        "output_key": "out", "output_value": "yo", "description": "the word"}
    assert run.json("stack", "output", "show", "s1", "--all") == [
        {"output_key": "out", "output_value": "yo", "description": "the word"}]

    template_text = run("stack", "template", "show", "s1")
    assert template_text.exit_code == 0 and "OS::Heat::TestResource" in template_text.stdout


def test_table_output_prints_events_as_they_happen(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    result = run("stack", "create", "s1", "-t", str(template))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any("[s1]: CREATE_IN_PROGRESS" in line for line in lines)
    first = next(i for i, line in enumerate(lines) if "[first]: CREATE_COMPLETE" in line)
    second = next(i for i, line in enumerate(lines) if "[second]: CREATE_COMPLETE" in line)
    assert first < second
    assert "stack_status" in result.stdout and "CREATE_COMPLETE" in result.stdout


def test_exit_codes(run: Cli) -> None:
    good = run.write("good.yaml", GOOD)
    failing = run.write("fail.yaml", """
heat_template_version: 2021-04-16
resources:
  bad: {type: OS::Heat::TestResource, properties: {fail: true}}
""")
    assert run("stack", "create", "ok", "-t", str(good)).exit_code == 0
    taken = run("stack", "create", "ok", "-t", str(good))
    assert taken.exit_code == 3 and "already exists" in taken.stderr
    assert run("stack", "create", "broken", "-t", str(failing)).exit_code == 1
    rolled = run("stack", "create", "rolled", "-t", str(failing), "--enable-rollback",
                 "-f", "json")
    assert rolled.exit_code == 1
    assert json.loads(rolled.stdout)["stack_status"] == "ROLLBACK_COMPLETE"
    assert run("stack", "update", "ok", "-t", str(failing)).exit_code == 1
    assert run("stack", "update", "ok", "-t", str(good)).exit_code == 0
    assert run("stack", "check", "ok").exit_code == 0
    assert run("stack", "suspend", "ok").exit_code == 0
    assert run("stack", "resume", "ok").exit_code == 0
    not_running = run("stack", "cancel", "ok")
    assert not_running.exit_code == 3 and "no operation in progress" in not_running.stderr
    deleted = run("stack", "delete", "ok", "--yes", "-f", "json")
    assert deleted.exit_code == 0
    assert json.loads(deleted.stdout)["stack_status"] == "DELETE_COMPLETE"
    missing = run("stack", "show", "ok")
    assert missing.exit_code == 2 and missing.stderr.strip() == "error: stack 'ok' not found"


def test_update_existing_reuses_template_and_merges_parameters(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    assert run("stack", "create", "s", "-t", str(template)).exit_code == 0
    shown = run.json("stack", "update", "s", "--existing", "--parameter", "word=again")
    assert isinstance(shown, dict)
    assert shown["stack_status"] == "UPDATE_COMPLETE"
    assert shown["outputs"][0]["output_value"] == "again"


def test_dry_run_json(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    plan = run.json("stack", "create", "s", "-t", str(template), "--dry-run")
    assert plan == [
        {"resource_name": "first", "resource_type": "OS::Heat::Value", "action": "create"},
        {"resource_name": "second", "resource_type": "OS::Heat::TestResource",
         "action": "create"},
    ]
    assert run.json("stack", "list") == []


def test_convergence_stacks_keep_their_path_and_legacy_ones_migrate(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    assert run("stack", "create", "c", "-t", str(template), "--convergence").exit_code == 0
    result = run("stack", "create", "e", "-t", str(template),
                 env={"CONVERGENT_CONVERGENCE_ENGINE": "true"})
    assert result.exit_code == 0, result.stderr
    assert run("stack", "create", "l", "-t", str(template)).exit_code == 0
    listed = run.json("stack", "list")
    assert isinstance(listed, list)
    assert {s["stack_name"]: s["convergence"] for s in listed} == {
        "c": True, "e": True, "l": False}
    updated = run("stack", "update", "c", "-t", str(template), "--parameter", "word=bye")
    assert updated.exit_code == 0, updated.stderr
    shown = run.json("stack", "show", "c")
    assert isinstance(shown, dict)
    assert shown["stack_status"] == "UPDATE_COMPLETE" and shown["convergence"] is True
    assert {"output_key": "out", "output_value": "bye", "description": "the word"} in \
        shown["outputs"]
    migrated = run.json("stack", "migrate", "l")
    assert isinstance(migrated, dict)
    assert (migrated["stack_status"], migrated["convergence"]) == ("CREATE_COMPLETE", True)
    again = run("stack", "migrate", "l")
    assert again.exit_code == 3 and "already a convergence stack" in again.stderr
    result = run("stack", "update", "l", "-t", str(template), "--parameter", "word=yo")
    assert result.exit_code == 0, result.stderr
    shown = run.json("stack", "show", "l")
    assert isinstance(shown, dict)
    assert (shown["stack_status"], shown["convergence"]) == ("UPDATE_COMPLETE", True)
    assert run("stack", "delete", "c").exit_code == 0
    assert run("stack", "show", "c").exit_code == 2


HEADER = "heat_template_version: 2021-04-16\n"

# Bad input: each case is (label, template text, extra CLI args, expected text in the error).
BAD_INPUT = [
    ("malformed YAML", HEADER + "resources: {a: [\n", (), "line"),
    ("template is a list", "- a\n- b\n", (), "got a list"),
    ("unknown version", "heat_template_version: 2012-01-01\nresources: {}\n", (),
     "heat_template_version"),
    ("unknown section", HEADER + "resourcez: {}\n", (), "resourcez"),
    ("unknown resource type", HEADER + "resources: {a: {type: Acme::Nope}}\n", (),
     "resources.a.type"),
    ("unknown property", HEADER + "resources: {a: {type: OS::Heat::TestResource, "
     "properties: {colour: red}}}\n", (), "resources.a.properties.colour"),
    ("wrong property type", HEADER + "resources: {a: {type: OS::Heat::RandomString, "
     "properties: {length: eighty}}}\n", (), "resources.a.properties.length"),
    ("missing required property", HEADER + "resources: {a: {type: Local::File}}\n", (),
     "resources.a.properties.path"),
    ("get_attr of unknown attribute", HEADER + "resources:\n  a: {type: OS::Heat::Value, "
     "properties: {value: 1}}\n  b: {type: OS::Heat::Value, properties: "
     "{value: {get_attr: [a, nope]}}}\n", (), "resources.b.properties.value"),
    ("get_resource of unknown resource", HEADER + "resources:\n  b: {type: OS::Heat::Value, "
     "properties: {value: {get_resource: ghost}}}\n", (), "ghost"),
    ("depends_on a missing resource", HEADER + "resources:\n  b: {type: OS::Heat::None, "
     "depends_on: ghost}\n", (), "resources.b.depends_on"),
    ("dependency cycle", HEADER + "resources:\n  a: {type: OS::Heat::None, depends_on: b}\n"
     "  b: {type: OS::Heat::None, depends_on: a}\n", (), "a -> b -> a"),
    ("bad function arguments", HEADER + "resources:\n  a: {type: OS::Heat::Value, "
     "properties: {value: {list_join: 5}}}\n", (), "resources.a.properties.value.list_join"),
    ("parameter violates allowed_values", HEADER + "parameters:\n  p: {type: string, "
     "default: x, constraints: [{allowed_values: [a, b]}]}\nresources: {}\n", (),
     "parameters.p"),
    ("parameter violates range", HEADER + "parameters:\n  p: {type: number, default: 9, "
     "constraints: [{range: {max: 5}, description: p is at most five}]}\nresources: {}\n", (),
     "p is at most five"),
    ("parameter violates length", HEADER + "parameters:\n  p: {type: string, default: abc, "
     "constraints: [{length: {max: 2}}]}\nresources: {}\n", (), "parameters.p"),
    ("parameter violates allowed_pattern", HEADER + "parameters:\n  p: {type: string, "
     "default: abc, constraints: [{allowed_pattern: '[0-9]+'}]}\nresources: {}\n", (),
     "parameters.p"),
    ("missing parameter", HEADER + "parameters:\n  p: {type: string}\nresources: {}\n", (),
     "parameters.p"),
    ("get_file escaping the template directory", HEADER + "resources:\n  a: {type: "
     "OS::Heat::Value, properties: {value: {get_file: ../secret.txt}}}\n", (),
     "resources.a.properties.value.get_file"),
    ("template over the size limit", HEADER + "description: " + "x" * 2000 + "\n"
     "resources: {}\n", ("size-limit",), "limit"),
    ("empty file", "", (), "empty"),
    ("parameter not in the template", HEADER + "resources: {}\n", ("--parameter", "nope=1"),
     "nope"),
    ("bad --parameter syntax", HEADER + "resources: {}\n", ("--parameter", "novalue"),
     "KEY=VALUE"),
]


@pytest.mark.parametrize(("label", "text", "extra", "expected"), BAD_INPUT,
                         ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_and_nothing_stored(
        run: Cli, label: str, text: str, extra: tuple[str, ...], expected: str) -> None:
    (run.tmp / "secret.txt").write_text("top secret")
    template = run.write("tpl/t.yaml", text)
    env = None
    args = list(extra)
    if args == ["size-limit"]:
        env, args = {"CONVERGENT_MAX_TEMPLATE_BYTES": "1000"}, []
    result = run("stack", "create", "bad", "-t", str(template), *args, env=env)
    assert result.exit_code == 2, (label, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert run.json("stack", "list") == []


def test_bad_environment_and_missing_files_are_input_errors(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    env = run.write("env.yaml", "paramters: {word: x}\n")
    result = run("stack", "create", "s", "-t", str(template), "-e", str(env))
    assert result.exit_code == 2 and "paramters" in result.stderr
    result = run("stack", "create", "s", "-t", str(run.tmp / "missing.yaml"))
    assert result.exit_code == 2 and "not found" in result.stderr
    assert run("stack", "resource", "show", "nostack", "x").exit_code == 2
    assert run.json("stack", "list") == []


def test_unknown_resource_and_output_are_exit_2(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    assert run("stack", "create", "s", "-t", str(template)).exit_code == 0
    result = run("stack", "resource", "show", "s", "ghost")
    assert result.exit_code == 2 and "ghost" in result.stderr
    result = run("stack", "output", "show", "s", "ghost")
    assert result.exit_code == 2 and "ghost" in result.stderr


def test_quick_start_example_runs_from_the_installed_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "convergent"
    result = subprocess.run(
        [str(script), "stack", "create", "hello", "-t", str(ROOT / "examples/hello/hello.yaml"),
         "-f", "json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("CONVERGENT_")},
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    outputs = {o["output_key"]: o["output_value"] for o in shown["outputs"]}
    greeting = Path(outputs["file_path"])
    assert greeting.is_file() and greeting.read_text() == "Hello from stack hello!\n"
    assert outputs["fingerprint"].startswith("sha256:")
    assert (tmp_path / ".convergent" / "state.db").is_file()


def test_plugin_option_loads_a_module_of_actors(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "plugin"))
    monkeypatch.setenv("ACME_ROOT", str(run.tmp / "buckets"))
    template = run.write("bucket.yaml", """
heat_template_version: 2021-04-16
resources:
  b: {type: Acme::Bucket, properties: {name: photos, versioning: true}}
outputs:
  url: {value: {get_attr: [b, url]}}
""")
    without = run("stack", "create", "b", "-t", str(template))
    assert without.exit_code == 2 and "Acme::Bucket" in without.stderr
    shown = run("--plugin", "acme_actors", "stack", "create", "b", "-t", str(template),
                "-f", "json")
    assert shown.exit_code == 0, shown.stderr
    url = json.loads(shown.stdout)["outputs"][0]["output_value"]
    assert url.startswith("file://") and (run.tmp / "buckets").is_dir()
    missing = run("--plugin", "no_such_module_here", "stack", "list")
    assert missing.exit_code == 2 and "no_such_module_here" in missing.stderr


def test_asyncio_backend_and_config_file(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    config = run.write("convergent.toml", f'db = "{run.db}"\nconvergence_engine = false\n')
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "--backend", "asyncio", "stack",
                                 "create", "a", "-t", str(template), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["stack_status"] == "CREATE_COMPLETE"
    bad = run.write("bad.toml", "convergence_engine = 'maybe'\n")
    result = runner.invoke(cli, ["--config", str(bad), "stack", "list"])
    assert result.exit_code == 2 and "convergence_engine" in result.stderr


def test_event_list_follow_on_a_settled_stack_prints_and_returns(run: Cli) -> None:
    template = run.write("t.yaml", GOOD)
    assert run("stack", "create", "s", "-t", str(template)).exit_code == 0
    result = run("stack", "event", "list", "s", "--follow")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].endswith("[s]: CREATE_COMPLETE  Stack CREATE "
                                                   "completed successfully")
