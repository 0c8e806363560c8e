"""What a resource needs to reach its new definition: create, update in place, replace, or nothing.

`classify` is the single place that decides; both engine paths and `--dry-run`
use it. A change is applied in place only when every changed property is
`update_allowed` for the type (or is an undeclared property of an
open-properties type); any other change, a type change, or a row that never
reached a good state means replacement.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors import ResourceActor
from storage import Action, ResourceRecord, Status


class ChangeKind(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    changed: frozenset[str] = frozenset()


def changed_properties(old: Mapping[str, Any], new: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def is_settled(row: ResourceRecord) -> bool:
    """Whether the row's physical resource is known to match its recorded properties."""
    if row.physical_id is None or row.status is not Status.COMPLETE:
        return False
    return row.action not in (Action.INIT, Action.DELETE)


def classify(
    actor: type[ResourceActor], row: ResourceRecord | None, new_type: str,
    new_props: Mapping[str, Any],
) -> Change:
    if row is None:
        return Change(ChangeKind.CREATE)
    if row.type != new_type or not _usable(row):
        return Change(ChangeKind.REPLACE)
    changed = changed_properties(row.properties, new_props)
    if not changed:
        return Change(ChangeKind.UNCHANGED)
    schema = actor.properties_schema
    in_place = all(
        schema[name].update_allowed if name in schema else actor.open_properties
        for name in changed
    )
    return Change(ChangeKind.UPDATE if in_place else ChangeKind.REPLACE, changed)


def _usable(row: ResourceRecord) -> bool:
    """A row can be updated in place unless its last create or update failed or never ran."""
    if row.physical_id is None:
        return False
    if row.status is Status.FAILED and row.action in (Action.CREATE, Action.UPDATE):
        return False
    return row.action not in (Action.INIT, Action.DELETE)
