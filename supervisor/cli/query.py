"""`convergent stack ...` commands that read: show, list, template, resources, events, outputs."""

from __future__ import annotations

import json

import click
import yaml

from storage import Status
from supervisor.cli.app import format_option, run_command
from supervisor.cli.follow import follow_events
from supervisor.cli.output import emit, print_event
from supervisor.cli.stack import stack
from supervisor.compiling import load_template
from supervisor.engine import Engine
from supervisor.errors import InputError
from supervisor.lifecycle import load_stack, reap_if_orphaned
from supervisor.stacks import wait_stack
from supervisor.views import (
    event_view,
    list_resources,
    output_view,
    show_resource,
    show_stack,
    stack_outputs,
    stack_summary,
)


@stack.command("show")
@click.argument("name")
@format_option
@click.pass_context
def show(ctx: click.Context, name: str, fmt: str) -> None:
    """Show stack NAME with its parameters and outputs."""

    async def command(engine: Engine) -> int:
        emit(await show_stack(engine, await load_stack(engine, name)), fmt)
        return 0

    run_command(ctx, command)


@stack.command("list")
@format_option
@click.pass_context
def list_cmd(ctx: click.Context, fmt: str) -> None:
    """List the stacks in the store."""

    async def command(engine: Engine) -> int:
        found = [await reap_if_orphaned(engine, s) for s in await engine.store.list_stacks()]
        emit([stack_summary(s) for s in found], fmt,
             columns=["id", "stack_name", "stack_status", "convergence", "creation_time",
                      "updated_time"])
        return 0

    run_command(ctx, command)


@stack.group("template")
def template_group() -> None:
    """The stack's template."""


@template_group.command("show")
@click.argument("name")
@click.option("-f", "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
@click.pass_context
def template_show(ctx: click.Context, name: str, fmt: str) -> None:
    """Print the current template of stack NAME."""

    async def command(engine: Engine) -> int:
        target = await load_stack(engine, name)
        if target.template_id is None:
            raise InputError(f"stack {name!r} has no template", stack=name)
        record = await load_template(engine, target, target.template_id)
        if fmt == "json":
            click.echo(json.dumps(record.template, indent=2, default=str))
        else:
            click.echo(yaml.safe_dump(dict(record.template), sort_keys=False), nl=False)
        return 0

    run_command(ctx, command)


@stack.group("resource")
def resource_group() -> None:
    """The stack's resources."""


@resource_group.command("list")
@click.argument("name")
@format_option
@click.pass_context
def resource_list(ctx: click.Context, name: str, fmt: str) -> None:
    """List the resources of stack NAME."""

    async def command(engine: Engine) -> int:
        rows = await list_resources(engine, await load_stack(engine, name))
        emit(rows, fmt, columns=["resource_name", "physical_resource_id", "resource_type",
                                 "resource_status", "updated_time"])
        return 0

    run_command(ctx, command)


@resource_group.command("show")
@click.argument("name")
@click.argument("resource")
@format_option
@click.pass_context
def resource_show(ctx: click.Context, name: str, resource: str, fmt: str) -> None:
    """Show RESOURCE of stack NAME with its attributes and properties."""

    async def command(engine: Engine) -> int:
        emit(await show_resource(engine, await load_stack(engine, name), resource), fmt)
        return 0

    run_command(ctx, command)


@stack.group("event")
def event_group() -> None:
    """The stack's events."""


@event_group.command("list")
@click.argument("name")
@click.option("--resource", help="Only the events of this resource.")
@click.option("--follow", is_flag=True,
              help="Keep printing new events until the stack leaves IN_PROGRESS.")
@format_option
@click.pass_context
def event_list(ctx: click.Context, name: str, resource: str | None, follow: bool,
               fmt: str) -> None:
    """List the events of stack NAME in time order."""

    async def command(engine: Engine) -> int:
        target = await load_stack(engine, name)
        events = await engine.store.list_events(target.id, resource_name=resource)
        if not follow:
            emit([event_view(e) for e in events], fmt,
                 columns=["id", "resource_name", "resource_status", "resource_status_reason",
                          "event_time"])
            return 0
        for event in events:
            print_event(event, "table")
        if target.status is Status.IN_PROGRESS:
            await follow_events(engine, target, "table",
                                until=lambda: wait_stack(engine, target.id),
                                after=events[-1].id if events else 0)
        return 0

    run_command(ctx, command)


@stack.group("output")
def output_group() -> None:
    """The stack's outputs."""


@output_group.command("list")
@click.argument("name")
@format_option
@click.pass_context
def output_list(ctx: click.Context, name: str, fmt: str) -> None:
    """List the outputs of stack NAME."""

    async def command(engine: Engine) -> int:
        outputs = await stack_outputs(engine, await load_stack(engine, name))
        emit([{"output_key": o.key, "description": o.description} for o in outputs], fmt,
             columns=["output_key", "description"])
        return 0

    run_command(ctx, command)


@output_group.command("show")
@click.argument("name")
@click.argument("key", required=False)
@click.option("--all", "show_all", is_flag=True, help="Show every output.")
@format_option
@click.pass_context
def output_show(ctx: click.Context, name: str, key: str | None, show_all: bool,
                fmt: str) -> None:
    """Show output KEY of stack NAME (or --all of them)."""
    if (key is None) == (not show_all):
        raise click.UsageError("give either an output KEY or --all")

    async def command(engine: Engine) -> int:
        outputs = await stack_outputs(engine, await load_stack(engine, name))
        if show_all:
            emit([output_view(o) for o in outputs], fmt,
                 columns=["output_key", "output_value", "description"])
            return 0
        for output in outputs:
            if output.key == key:
                emit(output_view(output), fmt)
                return 0
        raise InputError(f"stack {name!r} has no output {key!r}", stack=name)

    run_command(ctx, command)
