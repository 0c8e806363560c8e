"""`Local::File`: a real file on the engine's machine.

The physical id is the absolute path (a relative `path` is taken relative to
the engine process's working directory at create time). Writes are atomic: the
content goes to a temporary file in the same directory, gets its mode, and is
renamed over the target, so a reader never sees a half-written file. Content
and mode change in place; a new path means a new file (replacement).

Replacement deletes the old file before creating the new one: two spellings
of one file (`a.txt` and `./a.txt`, or a path through a symlink) would
otherwise have the new file deleted right after it was written.

Write `mode` quoted in YAML: an unquoted `0644` is read as the octal integer
420, which is a valid but different mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import anyio

from actors.base import ActorContext, Created, Replacement, ResourceActor, ResourceFailure
from actors.schema import AllowedPattern, Property, PropertyType


def digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def write_atomically(path: str, content: str, mode: int) -> None:
    """Replace `path` with `content` and `mode` in one rename (blocking)."""
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode())
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def file_digest(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _failure(action: str, path: str, err: OSError) -> ResourceFailure:
    reason = err.strerror or str(err)
    return ResourceFailure(f"cannot {action} {path}: {reason}")


class LocalFile(ResourceActor):
    type_name = "Local::File"
    description = "A file on the engine's machine, written atomically."
    replacement = Replacement.DELETE_BEFORE_CREATE
    properties_schema = {
        "path": Property(
            PropertyType.STRING,
            "Where the file lives; relative paths are relative to the engine's directory.",
            required=True,
            constraints=(AllowedPattern(r"(?s).+", "path must not be empty"),),
        ),
        "content": Property(
            PropertyType.STRING,
            "The file's text (written as UTF-8).",
            default="",
            update_allowed=True,
        ),
        "mode": Property(
            PropertyType.STRING,
            'Permission bits as octal digits, e.g. "0644" (quote it in YAML).',
            default="0644",
            update_allowed=True,
            constraints=(AllowedPattern(r"0?[0-7]{3,4}", "mode must be 3 or 4 octal digits"),),
        ),
    }
    attributes_schema = {
        "path": "The absolute path of the file.",
        "sha256": "The hex SHA-256 digest of the content (UTF-8).",
    }

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        path = await anyio.to_thread.run_sync(os.path.abspath, props["path"])
        return Created(path, await self._write(path, props))

    async def update(
        self,
        ctx: ActorContext,
        physical_id: str,
        old_props: Mapping[str, Any],
        new_props: Mapping[str, Any],
        changed: frozenset[str],
    ) -> Mapping[str, Any]:
        return await self._write(physical_id, new_props)

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        try:
            await anyio.to_thread.run_sync(remove, physical_id)
        except OSError as err:
            raise _failure("delete", physical_id, err) from None

    async def check(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        try:
            found = await anyio.to_thread.run_sync(file_digest, physical_id)
        except OSError as err:
            raise _failure("read", physical_id, err) from None
        if found != digest(props["content"]):
            raise ResourceFailure(f"{physical_id}: content differs from the template")

    @staticmethod
    async def _write(path: str, props: Mapping[str, Any]) -> dict[str, Any]:
        content = props["content"]
        try:
            await anyio.to_thread.run_sync(write_atomically, path, content, int(props["mode"], 8))
        except OSError as err:
            raise _failure("write", path, err) from None
        return {"path": path, "sha256": digest(content)}
