"""An example convergent plugin: `Acme::Bucket`, a bucket that is a directory.

A bucket named NAME is the directory ROOT/NAME, where ROOT is the `root`
property or else the ACME_ROOT environment variable. A marker file inside it
records which resource made it (the engine's idempotency key) and its
settings, so:

* `create` repeated after an engine crash finds its own bucket and returns it
  instead of failing on "already exists";
* `check` can tell a bucket from any other directory.

Actors are stateless and get plain, already validated property values; all
file work goes through `anyio` so the engine's event loop never blocks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

import anyio

from actors import (
    ActorContext,
    Created,
    Property,
    PropertyType,
    ResourceActor,
    ResourceFailure,
)

MARKER = ".acme-bucket.json"


class Bucket(ResourceActor):
    type_name = "Acme::Bucket"
    description = "A directory-backed storage bucket."
    properties_schema = {
        # Not update_allowed: a new name makes the engine create a new bucket
        # and then delete the old one (replacement).
        "name": Property(PropertyType.STRING, "Bucket name.", required=True),
        "root": Property(PropertyType.STRING, "Where buckets live; defaults to $ACME_ROOT."),
        "versioning": Property(
            PropertyType.BOOLEAN, "Keep old versions.", default=False, update_allowed=True
        ),
        "labels": Property(PropertyType.MAP, "Free-form labels.", default={}, update_allowed=True),
    }
    attributes_schema = {
        "url": "file:// URL of the bucket's directory.",
        "versioning": "Whether versioning is on.",
    }

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        bucket = await _bucket_dir(props)
        marker = bucket / MARKER
        with _os_errors(bucket):
            if await marker.exists():
                if (await _read_marker(marker)).get("idempotency_key") != ctx.idempotency_key:
                    raise ResourceFailure(f"bucket {props['name']} already exists at {bucket}")
            elif await bucket.exists():
                raise ResourceFailure(f"{bucket} exists and is not an Acme bucket")
            else:
                await bucket.mkdir(parents=True)
            await _write_marker(marker, ctx.idempotency_key, props)
        return Created(str(bucket), _attributes(bucket, props))

    async def update(
        self,
        ctx: ActorContext,
        physical_id: str,
        old_props: Mapping[str, Any],
        new_props: Mapping[str, Any],
        changed: frozenset[str],
    ) -> Mapping[str, Any]:
        bucket = anyio.Path(physical_id)
        marker = bucket / MARKER
        with _os_errors(bucket):
            key = (await _read_marker(marker)).get("idempotency_key", ctx.idempotency_key)
            await _write_marker(marker, key, new_props)
        return _attributes(bucket, new_props)

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        # Deleting a bucket that is already gone is success (the actor contract).
        with _os_errors(physical_id):
            if await (anyio.Path(physical_id) / MARKER).exists():
                await anyio.to_thread.run_sync(shutil.rmtree, physical_id)

    async def check(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        if not await (anyio.Path(physical_id) / MARKER).exists():
            raise ResourceFailure(f"bucket {props['name']} is missing from {physical_id}")


async def _bucket_dir(props: Mapping[str, Any]) -> anyio.Path:
    root: str | None = props.get("root") or os.environ.get("ACME_ROOT")
    if not root:
        raise ResourceFailure("set the root property or the ACME_ROOT environment variable")
    name: str = props["name"]
    if not name or "/" in name or name in (".", ".."):
        raise ResourceFailure(f"invalid bucket name {name!r}")
    return await (anyio.Path(root) / name).absolute()


@contextlib.contextmanager
def _os_errors(where: object) -> Iterator[None]:
    """Turn an OSError into a one-line failure the user can act on."""
    try:
        yield
    except OSError as err:
        raise ResourceFailure(f"{where}: {err.strerror or err}") from None


async def _read_marker(marker: anyio.Path) -> dict[str, Any]:
    try:
        return dict(json.loads(await marker.read_text()))
    except ValueError as err:
        raise ResourceFailure(f"{marker} is not a bucket marker: {err}") from None


async def _write_marker(marker: anyio.Path, key: str, props: Mapping[str, Any]) -> None:
    record = {"idempotency_key": key, "versioning": props["versioning"], "labels": props["labels"]}
    await marker.write_text(json.dumps(record, indent=2, sort_keys=True))


def _attributes(bucket: anyio.Path, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"url": bucket.as_uri(), "versioning": props["versioning"]}


#: What convergent registers: from the entry point, or from `--plugin acme_actors`.
RESOURCE_ACTORS: list[type[ResourceActor]] = [Bucket]
