"""Persistence for convergent: the `Store` protocol, its records, and the backends."""

from storage.base import NotFound, StackExists, Store, StoreError, StoreURLError
from storage.memory import MemoryStore
from storage.records import (
    Action,
    EngineRecord,
    EventRecord,
    ResourceRecord,
    StackRecord,
    Status,
    TemplateRecord,
    status_text,
)
from storage.sqlite import SQLiteStore
from storage.url import DEFAULT_DB_URL, open_store

__all__ = [
    "DEFAULT_DB_URL",
    "Action",
    "EngineRecord",
    "EventRecord",
    "MemoryStore",
    "NotFound",
    "ResourceRecord",
    "SQLiteStore",
    "StackExists",
    "StackRecord",
    "Status",
    "Store",
    "StoreError",
    "StoreURLError",
    "TemplateRecord",
    "open_store",
    "status_text",
]
