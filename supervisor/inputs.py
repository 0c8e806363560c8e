"""What a user submits for a stack operation: template, files, environment, parameters.

`read_inputs` reads and parses the files named on the command line; every
problem is a `TemplateError` (unreadable file, bad YAML, bad environment,
`get_file` escaping the template's directory) raised before anything is stored.
The result is self-contained: `get_file` contents are captured so the stored
template never needs the disk again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template import (
    Limits,
    collect_files,
    merge_environments,
    parse_environment,
    parse_template,
)


@dataclass(frozen=True)
class Inputs:
    """A template with everything needed to compile it, as stored with the stack."""

    template: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    source: str = "template"


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError("", f"{what} file not found", source=str(path)) from None
    except IsADirectoryError:
        raise TemplateError("", f"{what} path is a directory", source=str(path)) from None
    except UnicodeDecodeError:
        raise TemplateError("", f"{what} file is not UTF-8 text", source=str(path)) from None
    except OSError as err:
        raise TemplateError("", f"cannot read {what}: {err.strerror}", source=str(path)) from None


def read_environments(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [parse_environment(read_text(p, "environment"), source=str(p)) for p in paths]


def read_inputs(template_path: Path, env_paths: Sequence[Path], parameters: Mapping[str, str],
                limits: Limits) -> Inputs:
    """Read a template and its environments; command-line parameters override theirs."""
    source = str(template_path)
    template = parse_template(read_text(template_path, "template"), source=source, limits=limits)
    try:
        files = collect_files(template, template_path.resolve().parent)
    except TemplateError as err:
        raise TemplateError(err.path, err.reason, source=source) from None
    environment = with_parameters(merge_environments(read_environments(env_paths)), parameters)
    return Inputs(template=template, files=files, environment=environment, source=source)


def with_parameters(environment: Mapping[str, Any],
                    parameters: Mapping[str, str]) -> dict[str, Any]:
    """The environment with command-line parameters merged into its `parameters` section."""
    merged = dict(environment)
    if parameters:
        merged["parameters"] = {**dict(environment.get("parameters") or {}), **parameters}
    return merged
