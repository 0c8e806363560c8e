"""Store URLs: the accepted forms open the right backend; the rest fail with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import DEFAULT_DB_URL, MemoryStore, SQLiteStore, StoreURLError, open_store
from storage.url import sqlite_path

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///state.db", "state.db"),
        ("sqlite:///./.convergent/state.db", "./.convergent/state.db"),
        ("sqlite:///dir/sub dir/ünï.db", "dir/sub dir/ünï.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite://///double/leading.db", "//double/leading.db"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    assert sqlite_path(url) == path


async def test_memory_url_opens_a_fresh_memory_store() -> None:
    one, two = await open_store("memory://"), await open_store("memory://")
    assert isinstance(one, MemoryStore) and one is not two
    assert one.url == "memory://"


async def test_relative_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///nested/dir/state.db")
    try:
        assert isinstance(store, SQLiteStore)
        assert store.url == "sqlite:///nested/dir/state.db"
    finally:
        await store.close()
    assert (tmp_path / "nested" / "dir" / "state.db").is_file()


async def test_absolute_sqlite_url(tmp_path: Path) -> None:
    db = tmp_path / "abs.db"
    assert db.is_absolute()
    store = await open_store(f"sqlite:///{db}")
    try:
        assert isinstance(store, SQLiteStore)
        assert store.url == f"sqlite:////{str(db).lstrip('/')}"
    finally:
        await store.close()
    assert db.is_file()


def test_default_url_is_the_embedded_file() -> None:
    assert sqlite_path(DEFAULT_DB_URL) == "./.convergent/state.db"


@pytest.mark.parametrize(
    "url",
    ["postgresql://user@localhost/convergent", "postgres://db/x", "postgresql+asyncpg://h/db"],
)
async def test_postgresql_is_not_available_yet(url: str) -> None:
    with pytest.raises(StoreURLError, match=r"^the PostgreSQL store is not available yet$"):
        await open_store(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memory:",
        "memory:///x",
        "sqlite://",
        "sqlite:///",
        "sqlite:///dir/",
        "sqlite://host/state.db",
        "sqlite:///:memory:",
        "sqlite:///state.db?mode=ro",
        "mysql://root@localhost/db",
        "./state.db",
        "line\nbreak",
    ],
)
async def test_bad_urls_fail_with_one_line_naming_the_url(url: str) -> None:
    with pytest.raises(StoreURLError) as caught:
        await open_store(url)
    message = str(caught.value)
    assert "\n" not in message
    assert repr(url) in message
    assert "memory://" in message and "sqlite:////absolute/path.db" in message


async def test_bad_urls_do_not_leak_passwords() -> None:
    with pytest.raises(StoreURLError) as caught:
        await open_store("mysql://admin:s3cret@db.example/prod")
    assert "s3cret" not in str(caught.value)
    assert "admin:***@db.example" in str(caught.value)
