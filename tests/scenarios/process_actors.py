"""A resource actor plugin for the real-process tests (`--plugin tests.scenarios.process_actors`).

`Test::Marker` is a physical resource that is a file: `create` writes the marker
file `DIR/<idempotency key>` (the `dir` property) and returns its name as the
physical id, `update` rewrites it, `delete` removes it. Every call also appends
JSON lines to the journal file (the `journal` property), so a test can replay
what the engines asked for, from every process, in the order it happened:

    {"pid", "op", "phase", "resource", "id", "inputs", "value"}

`phase` is `start` when a call begins, then for a create `made` (it wrote the
marker) or `found` (the marker of its key was there: a repeated call), `end`
for an update, `removed` or `gone` for a delete, and `failed` when the call
raised or was cancelled. `id` is the physical id (for a create, the marker it
makes). A process killed in a call leaves a `start` with no end.

`create` keeps the contract the engine relies on after a crash: called again
with the same idempotency key it finds its marker and returns it, so at most
one marker exists per key. A create whose key differs is a new physical
resource, which is how a test detects a duplicate create.

`delay` seconds are spent in every call: half before the marker is written,
half after, so a process killed at a random moment may leave a marker whose
create never returned (the case idempotency exists for).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.to_thread

from actors import ActorContext, Created, Property, PropertyType, ResourceActor, ResourceFailure

TYPE_NAME = "Test::Marker"


def marker_name(idempotency_key: str) -> str:
    """The marker file (and physical id) of the create with this key."""
    return idempotency_key.replace(":", "-").replace("/", "_")


def journal(path: str, op: str, phase: str, resource: str, ident: str,
            props: Mapping[str, Any]) -> None:
    """Append one line; a single O_APPEND write, so lines of processes never interleave."""
    line = json.dumps({"pid": os.getpid(), "op": op, "phase": phase, "resource": resource,
                       "id": ident, "inputs": props.get("inputs"),
                       "value": props.get("value")}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _write_atomically(path: Path, content: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(content, sort_keys=True))
    os.replace(tmp, path)


def _create(directory: str, key: str, content: dict[str, Any]) -> bool:
    """Write the marker of `key` unless it exists; returns whether it existed."""
    path = Path(directory) / marker_name(key)
    if path.exists():
        found = json.loads(path.read_text())
        if found.get("key") != key or found.get("resource") != content["resource"]:
            raise ResourceFailure(f"marker {path.name} belongs to {found}")
        return True
    _write_atomically(path, content)
    return False


def _update(directory: str, physical_id: str, changes: dict[str, Any]) -> None:
    path = Path(directory) / physical_id
    if not path.exists():
        raise ResourceFailure(f"marker {physical_id} is missing from {directory}")
    content = json.loads(path.read_text())
    content.update(changes)
    _write_atomically(path, content)


def _delete(directory: str, physical_id: str) -> bool:
    try:
        (Path(directory) / physical_id).unlink()
    except FileNotFoundError:
        return False
    return True


class Marker(ResourceActor):
    type_name = TYPE_NAME
    description = "a marker file named after the create's idempotency key"
    properties_schema: ClassVar[Mapping[str, Property]] = {
        "dir": Property(PropertyType.STRING, "Directory of the marker files.", required=True),
        "journal": Property(PropertyType.STRING, "File every call appends lines to.",
                            required=True),
        "value": Property(PropertyType.ANY, "Stored in the marker.", update_allowed=True),
        "fixed": Property(PropertyType.STRING, "Changing it replaces the resource.",
                          default=""),
        "delay": Property(PropertyType.NUMBER, "Seconds each call takes.", default=0,
                          update_allowed=True),
        "inputs": Property(PropertyType.ANY, "Dependencies (get_resource/get_attr).",
                           update_allowed=True),
    }
    attributes_schema: ClassVar[Mapping[str, str]] = {
        "value": "the value property",
        "marker": "the marker file's name",
    }

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        name = marker_name(ctx.idempotency_key)
        journal(props["journal"], "create", "start", ctx.resource_name, name, props)
        try:
            half = float(props.get("delay") or 0) / 2
            await anyio.sleep(half)
            content = {"resource": ctx.resource_name, "stack": ctx.stack_name,
                       "key": ctx.idempotency_key, "value": props.get("value"),
                       "fixed": props.get("fixed", ""), "inputs": props.get("inputs")}
            existed = await anyio.to_thread.run_sync(_create, props["dir"],
                                                     ctx.idempotency_key, content)
            journal(props["journal"], "create", "found" if existed else "made",
                    ctx.resource_name, name, props)
            await anyio.sleep(half)
        except BaseException:
            journal(props["journal"], "create", "failed", ctx.resource_name, name, props)
            raise
        return Created(name, {"value": props.get("value"), "marker": name})

    async def update(self, ctx: ActorContext, physical_id: str, old_props: Mapping[str, Any],
                     new_props: Mapping[str, Any], changed: frozenset[str]) -> Mapping[str, Any]:
        journal(new_props["journal"], "update", "start", ctx.resource_name, physical_id,
                new_props)
        try:
            await anyio.sleep(float(new_props.get("delay") or 0))
            changes = {"value": new_props.get("value"), "inputs": new_props.get("inputs")}
            await anyio.to_thread.run_sync(_update, new_props["dir"], physical_id, changes)
        except BaseException:
            journal(new_props["journal"], "update", "failed", ctx.resource_name, physical_id,
                    new_props)
            raise
        journal(new_props["journal"], "update", "end", ctx.resource_name, physical_id,
                new_props)
        return {"value": new_props.get("value"), "marker": physical_id}

    async def delete(self, ctx: ActorContext, physical_id: str,
                     props: Mapping[str, Any]) -> None:
        journal(props["journal"], "delete", "start", ctx.resource_name, physical_id, props)
        try:
            await anyio.sleep(float(props.get("delay") or 0) / 2)
            removed = await anyio.to_thread.run_sync(_delete, props["dir"], physical_id)
        except BaseException:
            journal(props["journal"], "delete", "failed", ctx.resource_name, physical_id, props)
            raise
        journal(props["journal"], "delete", "removed" if removed else "gone",
                ctx.resource_name, physical_id, props)


RESOURCE_ACTORS = [Marker]
