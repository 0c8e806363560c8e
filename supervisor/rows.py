"""The resource rows of one stack, grouped by name, as an engine operation sees them.

A name may have several rows: the *current* one (not replaced by anything) and
older ones a replacement left behind until cleanup deletes them. `Rows` answers
which row is current, which rows are retired for a target, and what
`get_resource`/`get_attr` see (`lookup`). It holds no engine logic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from storage import ResourceRecord
from supervisor.diff import changed_properties, is_settled
from supervisor.template import ResourceData


class Rows:
    def __init__(self, records: Iterable[ResourceRecord] = ()) -> None:
        self._by_id: dict[str, ResourceRecord] = {}
        self._current: dict[str, str] = {}
        #: each name's row ids, oldest first (so per-name questions cost O(rows of the name))
        self._by_name: dict[str, dict[str, None]] = {}
        for record in sorted(records, key=lambda r: r.created_at):
            self._by_id[record.id] = record
            self._by_name.setdefault(record.name, {})[record.id] = None
        for record in self._by_id.values():
            if record.replaced_by is None or record.replaced_by not in self._by_id:
                self._current[record.name] = record.id

    def __iter__(self) -> Any:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def current(self, name: str) -> ResourceRecord | None:
        rid = self._current.get(name)
        return None if rid is None else self._by_id[rid]

    def current_rows(self) -> list[ResourceRecord]:
        return [self._by_id[rid] for rid in self._current.values()]

    def get_row(self, row_id: str) -> ResourceRecord:
        return self._by_id[row_id]

    def put(self, row: ResourceRecord) -> None:
        """Record the newest state of a row; a row not replaced becomes its name's current row."""
        self._by_id[row.id] = row
        self._by_name.setdefault(row.name, {})[row.id] = None
        if row.replaced_by is None or row.replaced_by not in self._by_id:
            self._current[row.name] = row.id
        elif self._current.get(row.name) == row.id:
            self._current[row.name] = row.replaced_by

    def drop(self, row: ResourceRecord) -> None:
        self._by_id.pop(row.id, None)
        same_name = self._by_name.get(row.name, {})
        same_name.pop(row.id, None)
        if self._current.get(row.name) == row.id:
            del self._current[row.name]
            if same_name:
                self._current[row.name] = next(reversed(same_name))

    def lookup(self, name: str) -> ResourceData | None:
        row = self.current(name)
        if row is None:
            return None
        return ResourceData(physical_id=row.physical_id, attributes=row.attributes)

    def ids_of(self, names: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(self._current[n] for n in names if n in self._current))

    def retired(self, keep: Iterable[str]) -> list[ResourceRecord]:
        """Rows that are not the current row of a name in `keep`, oldest first."""
        kept = {self._current[n] for n in keep if n in self._current}
        return [row for rid, row in self._by_id.items() if rid not in kept]

    def reclaimable(self, name: str, type_name: str,
                    props: Mapping[str, Any]) -> ResourceRecord | None:
        """An older, healthy row of `name` that already matches `props` (a rollback target)."""
        current = self.current(name)
        if current is not None and current.type == type_name and is_settled(current) \
                and not changed_properties(current.properties, props):
            return None
        for row_id in reversed(self._by_name.get(name, {})):
            row = self._by_id[row_id]
            if row is not current and row.type == type_name \
                    and is_settled(row) and not changed_properties(row.properties, props):
                return row
        return None
