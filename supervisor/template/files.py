"""Collecting the files a template reads with `get_file`.

Every `get_file` call with a literal string argument is read once, relative to
the template's directory, so the stored template is self-contained. A path
may never leave that directory: absolute paths, URLs, `..` escapes and
symlinks that resolve outside it are template errors at the call's path.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from supervisor.errors import TemplateError
from supervisor.template.nodes import index_path, key_path


def collect_files(template: Mapping[str, Any], base_dir: pathlib.Path) -> dict[str, str]:
    """{path as written: content} for every literal get_file in the template."""
    base = base_dir.resolve()
    files: dict[str, str] = {}
    for name, path in _get_file_calls(template):
        if name not in files:
            files[name] = _read(name, base, path)
    return files


def _get_file_calls(template: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    stack: list[tuple[Any, str]] = [(template, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            if len(value) == 1 and isinstance(value.get("get_file"), str):
                yield value["get_file"], key_path(path, "get_file")
                continue
            stack.extend((item, key_path(path, str(key))) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, index_path(path, i)) for i, item in enumerate(value))


def _read(name: str, base: pathlib.Path, path: str) -> str:
    if urlsplit(name).scheme:
        raise TemplateError(
            path, f"{name!r} is a URL; only paths relative to the template's directory are allowed"
        )
    if os.path.isabs(name) or name.startswith("~"):
        raise TemplateError(
            path,
            f"{name!r} is an absolute path; only paths relative to the "
            "template's directory are allowed",
        )
    target = (base / name).resolve()
    if not target.is_relative_to(base):
        raise TemplateError(path, f"{name!r} is outside the template's directory")
    try:
        return target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(path, f"{name!r} not found in the template's directory") from None
    except IsADirectoryError:
        raise TemplateError(path, f"{name!r} is a directory") from None
    except UnicodeDecodeError:
        raise TemplateError(path, f"{name!r} is not UTF-8 text") from None
    except OSError as err:
        raise TemplateError(path, f"cannot read {name!r}: {err.strerror}") from None
