"""Persistence for convergent: the `Store` protocol, its records, and the backends."""

from storage.base import (
    NotFound,
    StackExists,
    Store,
    StoreError,
    StoreURLError,
    TraversalBuilder,
    TraversalStart,
)
from storage.memory import MemoryStore
from storage.records import (
    Action,
    Delivery,
    EngineRecord,
    EventRecord,
    NodeKey,
    NodeState,
    Phase,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    Status,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
    evolve,
    status_text,
)
from storage.sqlite import SQLiteStore
from storage.url import DEFAULT_DB_URL, open_store

__all__ = [
    "DEFAULT_DB_URL",
    "Action",
    "Delivery",
    "EngineRecord",
    "EventRecord",
    "MemoryStore",
    "NodeKey",
    "NodeState",
    "NotFound",
    "Phase",
    "ReadyNode",
    "ResourceRecord",
    "SQLiteStore",
    "StackExists",
    "StackRecord",
    "Status",
    "Store",
    "StoreError",
    "StoreURLError",
    "SyncPoint",
    "TemplateRecord",
    "TraversalBuilder",
    "TraversalRecord",
    "TraversalStart",
    "evolve",
    "open_store",
    "status_text",
]
