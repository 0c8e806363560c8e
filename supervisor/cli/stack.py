"""`convergent stack ...`: the commands of the CLI contract that change a stack.

Each command validates its input before anything is stored, runs the
operation in the embedded engine while printing events as they are persisted,
and exits 0 when the stack ends `*_COMPLETE`, 1 when it ends `*_FAILED` or was
rolled back, 2 for invalid input and 3 when the stack's state refuses it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from storage import Action, StackRecord, Status
from supervisor import stacks
from supervisor.cli.app import cli, format_option, run_command
from supervisor.cli.follow import echo_events, follow_events
from supervisor.cli.output import emit
from supervisor.engine import Engine
from supervisor.errors import InputError
from supervisor.inputs import read_environments, read_inputs
from supervisor.lifecycle import load_stack
from supervisor.views import show_stack, stack_detail


@cli.group()
def stack() -> None:
    """Create, change, inspect and delete stacks."""


def parse_parameters(values: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--parameter {item!r}: expected KEY=VALUE")
        parsed[key] = value
    return parsed


def exit_code(stack: StackRecord) -> int:
    if stack.status is Status.COMPLETE and stack.action is not Action.ROLLBACK:
        return 0
    return 1


async def settle(engine: Engine, fmt: str, operation: Callable[[], Awaitable[StackRecord]],
                 *, deleted: bool = False) -> int:
    """Run an operation printing its events, then print the final stack and pick the exit code."""
    final = await echo_events(engine, fmt, operation)
    if fmt != "table" or not deleted:
        view = await show_stack(engine, final) if not deleted else _last_state(final)
        emit(view, fmt)
    return exit_code(final)


def _last_state(final: StackRecord) -> dict[str, Any]:
    return stack_detail(final, [])


template_option = click.option("-t", "--template", "template", type=click.Path(path_type=Path),
                               metavar="TEMPLATE", help="HOT template file.")
env_option = click.option("-e", "--environment", "environments", multiple=True,
                          type=click.Path(path_type=Path), metavar="ENV",
                          help="Environment file (repeatable; later files win).")
param_option = click.option("--parameter", "parameters", multiple=True, metavar="KEY=VALUE",
                            help="Parameter value (repeatable; overrides environments).")
wait_option = click.option("--wait", is_flag=True, help="Accepted for compatibility; commands "
                           "always wait until the stack settles.")
dry_run_option = click.option("--dry-run", is_flag=True,
                              help="Show what would change and change nothing.")


@stack.command("create")
@click.argument("name")
@template_option
@env_option
@param_option
@click.option("--timeout", type=int, metavar="MINUTES", help="Stack timeout in minutes.")
@click.option("--enable-rollback", is_flag=True, help="Roll back if the create fails.")
@click.option("--convergence/--legacy", default=None,
              help="Code path for this stack (default: config convergence_engine).")
@click.option("--tag", "tags", multiple=True, help="Tag the stack (repeatable).")
@dry_run_option
@wait_option
@format_option
@click.pass_context
def create(ctx: click.Context, name: str, template: Path | None,
           environments: tuple[Path, ...], parameters: tuple[str, ...], timeout: int | None,
           enable_rollback: bool, convergence: bool | None, tags: tuple[str, ...],
           dry_run: bool, wait: bool, fmt: str) -> None:
    """Create stack NAME from a template."""
    if template is None:
        raise click.UsageError("Missing option '-t' / '--template'.")

    async def command(engine: Engine) -> int:
        inputs = read_inputs(template, environments, parse_parameters(parameters),
                             engine.config.limits)
        if dry_run:
            emit_plan(await stacks.plan_create(engine, name, inputs), fmt)
            return 0
        options = stacks.CreateOptions(convergence=convergence,
                                       disable_rollback=not enable_rollback,
                                       timeout_mins=timeout, tags=tags)
        return await settle(engine, fmt, lambda: stacks.create_stack(engine, name, inputs,
                                                                     options))

    run_command(ctx, command)


def emit_plan(plan: list[stacks.PlannedChange], fmt: str) -> None:
    rows = [{"resource_name": e.resource_name, "resource_type": e.resource_type,
             "action": e.action.value} for e in plan]
    emit(rows, fmt, columns=["resource_name", "resource_type", "action"])


@stack.command("update")
@click.argument("name")
@template_option
@env_option
@param_option
@click.option("--existing", is_flag=True,
              help="Start from the stack's current template, environment and parameters.")
@click.option("--rollback", type=click.Choice([m.value for m in stacks.RollbackMode]),
              default="keep", show_default=True, help="Roll back if the update fails.")
@click.option("--timeout", type=int, metavar="MINUTES", help="Stack timeout in minutes.")
@dry_run_option
@wait_option
@format_option
@click.pass_context
def update(ctx: click.Context, name: str, template: Path | None,
           environments: tuple[Path, ...], parameters: tuple[str, ...], existing: bool,
           rollback: str, timeout: int | None, dry_run: bool, wait: bool, fmt: str) -> None:
    """Update stack NAME to a new template, environment or parameters."""
    if template is None and not existing:
        raise click.UsageError("Missing option '-t' / '--template' (or give --existing).")

    async def command(engine: Engine) -> int:
        params = parse_parameters(parameters)
        inputs = None if template is None else read_inputs(
            template, () if existing else environments, {} if existing else params,
            engine.config.limits)
        envs = tuple(read_environments(environments)) if existing else ()
        extra = params if existing else {}
        if dry_run:
            plan = await stacks.plan_update(engine, name, inputs, envs, extra, existing)
            emit_plan(plan, fmt)
            return 0
        options = stacks.UpdateOptions(existing=existing,
                                       rollback=stacks.RollbackMode(rollback),
                                       timeout_mins=timeout)
        return await settle(engine, fmt, lambda: stacks.update_stack(
            engine, name, inputs, envs, extra, options))

    run_command(ctx, command)


@stack.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@wait_option
@format_option
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool, wait: bool, fmt: str) -> None:
    """Delete stack NAME and its resources (Retain resources are kept)."""
    if not yes and sys.stdin.isatty() and not click.confirm(
            f"Are you sure you want to delete stack {name}?", err=True):
        sys.exit(1)

    async def command(engine: Engine) -> int:
        return await settle(engine, fmt, lambda: stacks.delete_stack(engine, name),
                            deleted=True)

    run_command(ctx, command)


def _simple_action(verb: str, action: Action, doc: str) -> None:
    @stack.command(verb, help=doc)
    @click.argument("name")
    @wait_option
    @format_option
    @click.pass_context
    def command_fn(ctx: click.Context, name: str, wait: bool, fmt: str) -> None:
        async def command(engine: Engine) -> int:
            return await settle(engine, fmt, lambda: stacks.act_on_stack(engine, name, action))

        run_command(ctx, command)


_simple_action("check", Action.CHECK, "Check that every resource of stack NAME still exists.")
_simple_action("suspend", Action.SUSPEND, "Suspend every resource, dependents first.")
_simple_action("resume", Action.RESUME, "Resume every resource of a suspended stack.")


@stack.command("cancel")
@click.argument("name")
@click.option("--no-rollback", is_flag=True,
              help="Do not roll back: the operation ends FAILED with reason 'cancelled'.")
@click.pass_context
def cancel(ctx: click.Context, name: str, no_rollback: bool) -> None:
    """Cancel the operation in progress on stack NAME (then roll it back)."""

    async def command(engine: Engine) -> int:
        target = await stacks.cancel_stack(engine, name, rollback=not no_rollback)
        click.echo(f"cancel requested for stack {target.name}", err=True)
        return 0

    run_command(ctx, command)


@stack.command("wait")
@click.argument("name")
@format_option
@click.pass_context
def wait_cmd(ctx: click.Context, name: str, fmt: str) -> None:
    """Block until stack NAME leaves IN_PROGRESS, printing its events."""

    async def command(engine: Engine) -> int:
        stack_rec = await load_stack(engine, name)
        final = await follow_events(engine, stack_rec, fmt,
                                    until=lambda: stacks.wait_stack(engine, stack_rec.id))
        emit(await show_stack(engine, final), fmt)
        return exit_code(final)

    run_command(ctx, command)


@stack.command("migrate")
@click.argument("name")
@format_option
@click.pass_context
def migrate(ctx: click.Context, name: str, fmt: str) -> None:
    """Move legacy stack NAME, at rest, onto the convergence path."""

    async def command(engine: Engine) -> int:
        migrated = await stacks.migrate_stack(engine, name)
        emit(await show_stack(engine, migrated), fmt)
        return 0

    run_command(ctx, command)
