"""`convergent engine`: a long-running engine on the store.

While it runs it heartbeats; it runs a convergence worker for every stack on
the store (claiming ready nodes, and resuming the traversals of engines that
died); and it watches for legacy stacks left IN_PROGRESS by an engine that
died, reporting them FAILED ("Engine went down during stack ..."). It stops
cleanly on SIGINT or SIGTERM: claims it holds are released for other engines.
"""

from __future__ import annotations

import signal

import anyio
import click

from storage import Status
from supervisor.cli.app import cli, run_command
from supervisor.convergence.worker import working
from supervisor.engine import Engine
from supervisor.lifecycle import reap_if_orphaned


async def reap_orphans(engine: Engine) -> int:
    """Report every legacy stack orphaned by a dead engine; returns how many were found."""
    reaped = 0
    for stack in await engine.store.list_stacks():
        if stack.status is Status.IN_PROGRESS and not stack.convergence:
            after = await reap_if_orphaned(engine, stack)
            reaped += after.status is Status.FAILED
    return reaped


@cli.command("engine")
@click.option("--interval", type=float, default=5.0, show_default=True,
              help="Seconds between scans for work left by dead engines.")
@click.pass_context
def engine(ctx: click.Context, interval: float) -> None:
    """Run a long-lived engine on the store until interrupted."""

    async def command(engine: Engine) -> int:
        click.echo(f"engine {engine.id} running on {engine.config.db}", err=True)
        async with working(engine), anyio.create_task_group() as group:
            group.start_soon(_scan, engine, interval)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    click.echo(f"engine {engine.id} stopping ({signal.Signals(signum).name})",
                               err=True)
                    break
            group.cancel_scope.cancel()
        return 0

    run_command(ctx, command)


async def _scan(engine: Engine, interval: float) -> None:
    while True:
        await reap_orphans(engine)
        await anyio.sleep(interval)
