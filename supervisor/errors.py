"""The engine's error tree: one base class, structured fields, one readable line each.

* `TemplateError`: the template, environment or a parameter is invalid; found
  before anything is stored (CLI exit code 2). Carries the template path.
* `InputError`: other invalid input (unknown stack or resource, bad option
  value); exit code 2.
* `StateError`: the request is valid but the stack's state refuses it (name
  taken, legacy stack in progress, migrate of a stack not at rest); exit code 3.
* `ConfigError`: the configuration file or environment is invalid; exit code 2.

Resource failures are not errors of this tree: they travel through the engine
as values and end as a FAILED state with a reason.
"""

from __future__ import annotations


class ConvergentError(Exception):
    """Base of every error the engine reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, stack: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.stack = stack

    def __str__(self) -> str:
        return self.message


class TemplateError(ConvergentError):
    """An invalid template, environment or parameter; `path` locates it in the document."""

    exit_code = 2

    def __init__(self, path: str, message: str, *, source: str | None = None) -> None:
        located = f"{path}: {message}" if path else message
        super().__init__(f"{source}: {located}" if source else located)
        self.path = path
        self.reason = message
        self.source = source


class InputError(ConvergentError):
    """Invalid input that is not a template: unknown stack or resource, bad option."""

    exit_code = 2


class ConfigError(InputError):
    """Invalid configuration file, environment variable or store URL."""


class StateError(ConvergentError):
    """A valid request refused because of the stack's current state."""

    exit_code = 3
