"""Store URLs: which backend a `--db` / `CONVERGENT_DB` value names, and opening it.

Accepted forms (SQLAlchemy's spelling for SQLite):

* `memory://`: a fresh in-process `MemoryStore`;
* `sqlite:///relative/path.db`: three slashes, a path relative to the working
  directory; `sqlite:////absolute/path.db`: four slashes, an absolute path;
* `postgresql://...`: reserved for the PostgreSQL store, which does not exist yet.

Anything else is a `StoreURLError` whose message is one line naming the URL (with
any password masked) and the accepted forms.
"""

from __future__ import annotations

import urllib.parse

from storage.base import Store, StoreURLError
from storage.memory import MemoryStore
from storage.sqlite import SQLiteStore

DEFAULT_DB_URL = "sqlite:///./.convergent/state.db"

ACCEPTED_FORMS = "memory://, sqlite:///relative/path.db or sqlite:////absolute/path.db"

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


async def open_store(url: str) -> Store:
    """Open the store `url` names; see the module docstring for the forms."""
    if url == "memory://":
        return MemoryStore()
    if url.startswith(_SQLITE_PREFIX):
        return await SQLiteStore.open(sqlite_path(url))
    if url.partition(":")[0].partition("+")[0] in _POSTGRES_SCHEMES:
        raise StoreURLError("the PostgreSQL store is not available yet")
    raise _unsupported(url)


def sqlite_path(url: str) -> str:
    """The file path of a `sqlite:///` URL: what follows the third slash."""
    path = url.removeprefix(_SQLITE_PREFIX)
    if not path or path.endswith("/"):
        raise _unsupported(url, "it names no database file")
    if path == ":memory:" or "?" in path:
        raise _unsupported(url, "in-memory databases and query options are not supported")
    return path


def _unsupported(url: str, why: str = "") -> StoreURLError:
    because = f" ({why})" if why else ""
    return StoreURLError(f"unsupported store URL {_redacted(url)!r}{because}; use {ACCEPTED_FORMS}")


def _redacted(url: str) -> str:
    """`url` with any password replaced by `***`."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
