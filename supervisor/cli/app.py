"""The `convergent` command group: global options, and running a command inside an engine.

Every command runs in one process: it loads the configuration, opens the store,
starts an embedded engine on it and runs the command's coroutine. Errors from
the engine's error tree (and the store's and the registry's) become one line on
stderr and the exit code of the CLI contract; a traceback is printed only with
`--log-level debug`.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import anyio
import click

from actors import Registry, RegistryError, default_registry
from storage import StoreError, StoreURLError, open_store
from supervisor.config import Config, load_config
from supervisor.engine import Engine, running_engine
from supervisor.errors import ConfigError, ConvergentError
from supervisor.logging import LEVELS, configure_logging

Command = Callable[[Engine], Awaitable[int]]


@dataclass(frozen=True)
class Globals:
    db: str | None
    config_path: str | None
    plugins: tuple[str, ...]
    log_format: str | None
    log_level: str | None
    backend: str | None

    def config(self) -> Config:
        return load_config(self.config_path, overrides={
            "db": self.db, "log_format": self.log_format, "log_level": self.log_level,
            "backend": self.backend})


def build_registry(plugins: tuple[str, ...]) -> Registry:
    registry = default_registry()
    registry.load_entry_points()
    for module in plugins:
        registry.load_plugin(module)
    return registry


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def run_command(ctx: click.Context, command: Command) -> NoReturn:
    """Run `command` inside an embedded engine and exit with the code it returns."""
    options: Globals = ctx.find_root().obj
    debug = False
    try:
        config = options.config()
        debug = config.log_level == "debug"
        configure_logging(config.log_format, config.log_level)
        if config.backend not in ("trio", "asyncio"):
            raise ConfigError(f"backend must be trio or asyncio, got {config.backend!r}")
        registry = build_registry(options.plugins)
        code = anyio.run(_in_engine, config, registry, command, backend=config.backend)
    except ConvergentError as err:
        _debug_trace(debug)
        fail(str(err), err.exit_code)
    except (StoreURLError, RegistryError) as err:
        _debug_trace(debug)
        fail(str(err), 2)
    except StoreError as err:
        _debug_trace(debug)
        fail(f"store: {err}", 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:
        if debug:
            traceback.print_exc()
        fail(f"internal error: {type(err).__name__}: {err} (run with --log-level debug for "
             "the traceback)", 1)
    sys.exit(code)


def _debug_trace(debug: bool) -> None:
    if debug:
        traceback.print_exc()


async def _in_engine(config: Config, registry: Registry, command: Command) -> int:
    store = await open_store(config.db)
    try:
        async with running_engine(store, registry, config) as engine:
            return await command(engine)
    finally:
        with anyio.CancelScope(shield=True):
            await store.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", envvar="CONVERGENT_DB",
              help="Store: sqlite:///path/state.db (default sqlite:///./.convergent/state.db), "
                   "memory:// or postgresql://... (also CONVERGENT_DB).")
@click.option("--config", "config_path", metavar="PATH",
              help="TOML config file (default ./convergent.toml if present).")
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Import a module that registers resource actors (repeatable).")
@click.option("--log-format", type=click.Choice(["console", "json", "auto"]),
              help="structlog output on stderr (default: console on a TTY, else json).")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False),
              help="Log level (default warning); debug also prints tracebacks.")
@click.option("--backend", type=click.Choice(["trio", "asyncio"]),
              help="anyio backend to run on (default trio).")
@click.version_option(package_name="convergent")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config_path: str | None, plugins: tuple[str, ...],
        log_format: str | None, log_level: str | None, backend: str | None) -> None:
    """convergent: stack orchestration with Heat's legacy and convergence engines."""
    ctx.obj = Globals(db=db, config_path=config_path, plugins=plugins, log_format=log_format,
                      log_level=log_level.lower() if log_level else None, backend=backend)


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "yaml"]),
                        default="table", show_default=True, help="Output format.")(func)
