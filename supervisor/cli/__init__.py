"""The `convergent` command line (the contract is docs/cli.md)."""

from supervisor.cli import engine_cmd, query, stack
from supervisor.cli.app import cli


def main() -> None:
    cli(prog_name="convergent")


__all__ = ["cli", "engine_cmd", "main", "query", "stack"]
