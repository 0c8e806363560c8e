"""Local::File: a real file, written atomically, on both anyio backends."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actors import ActorContext, Operation, PropertyError, Replacement, ResourceFailure
from actors.builtin import LocalFile

pytestmark = pytest.mark.anyio

MakeCtx = Callable[..., ActorContext]
Props = Callable[..., dict[str, Any]]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def test_create_writes_content_and_mode(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    target = tmp_path / "deep" / "er" / "motd"
    values = props(LocalFile, {"path": str(target), "content": "héllo\n", "mode": "0640"})
    created = await LocalFile().create(make_ctx(), values)
    assert created.physical_id == str(target)
    assert created.attributes == {"path": str(target), "sha256": sha256("héllo\n")}
    assert target.read_bytes() == "héllo\n".encode()
    assert mode_of(target) == 0o640
    assert os.listdir(target.parent) == ["motd"]


async def test_defaults_are_empty_content_and_0644(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    target = tmp_path / "empty"
    created = await LocalFile().create(make_ctx(), props(LocalFile, {"path": str(target)}))
    assert target.read_bytes() == b""
    assert mode_of(target) == 0o644
    assert created.attributes["sha256"] == hashlib.sha256(b"").hexdigest()


async def test_relative_path_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_ctx: MakeCtx, props: Props
) -> None:
    monkeypatch.chdir(tmp_path)
    created = await LocalFile().create(make_ctx(), props(LocalFile, {"path": "sub/f.txt"}))
    assert created.physical_id == str(tmp_path / "sub" / "f.txt")
    assert created.attributes["path"] == created.physical_id


async def test_update_replaces_the_file_atomically(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    actor, target = LocalFile(), tmp_path / "conf"
    old = props(LocalFile, {"path": str(target), "content": "v1"})
    created = await actor.create(make_ctx(), old)
    reader = tmp_path / "reader"
    os.link(target, reader)  # holds the old inode, like a reader with the file open
    new = props(LocalFile, {"path": str(target), "content": "v2", "mode": "600"})
    attrs = await actor.update(
        make_ctx(Operation.UPDATE), created.physical_id, old, new, frozenset({"content", "mode"})
    )
    assert attrs == {"path": str(target), "sha256": sha256("v2")}
    assert target.read_text() == "v2"
    assert reader.read_text() == "v1"  # renamed over, never rewritten in place
    assert mode_of(target) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["conf", "reader"]


async def test_update_of_mode_only(tmp_path: Path, make_ctx: MakeCtx, props: Props) -> None:
    actor, target = LocalFile(), tmp_path / "script"
    old = props(LocalFile, {"path": str(target), "content": "#!/bin/sh\n"})
    created = await actor.create(make_ctx(), old)
    new = props(LocalFile, {"path": str(target), "content": "#!/bin/sh\n", "mode": "0755"})
    await actor.update(
        make_ctx(Operation.UPDATE), created.physical_id, old, new, frozenset({"mode"})
    )
    assert mode_of(target) == 0o755
    assert target.read_text() == "#!/bin/sh\n"


def test_path_change_replaces_content_and_mode_do_not() -> None:
    schema = LocalFile.properties_schema
    assert not schema["path"].update_allowed
    assert schema["content"].update_allowed and schema["mode"].update_allowed
    assert LocalFile.replacement is Replacement.DELETE_BEFORE_CREATE


@pytest.mark.parametrize("mode", ["999", "12", "01234x", "rw-r--r--"])
def test_mode_must_be_octal_digits(props: Props, mode: str) -> None:
    with pytest.raises(PropertyError) as caught:
        props(LocalFile, {"path": "x", "mode": mode})
    assert caught.value.path == "mode"


async def test_delete_removes_and_a_missing_file_is_success(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    actor, values = LocalFile(), props(LocalFile, {"path": str(tmp_path / "f")})
    created = await actor.create(make_ctx(), values)
    await actor.delete(make_ctx(Operation.DELETE), created.physical_id, values)
    assert not (tmp_path / "f").exists()
    await actor.delete(make_ctx(Operation.DELETE), created.physical_id, values)


async def test_check_verifies_existence_and_digest(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    actor, target = LocalFile(), tmp_path / "f"
    values = props(LocalFile, {"path": str(target), "content": "expected"})
    created = await actor.create(make_ctx(), values)
    await actor.check(make_ctx(Operation.CHECK), created.physical_id, values)
    target.write_text("tampered")
    with pytest.raises(ResourceFailure, match="content differs"):
        await actor.check(make_ctx(Operation.CHECK), created.physical_id, values)
    target.unlink()
    with pytest.raises(ResourceFailure) as caught:
        await actor.check(make_ctx(Operation.CHECK), created.physical_id, values)
    assert str(caught.value) == f"cannot read {target}: No such file or directory"


async def test_os_error_becomes_a_one_line_failure(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    (tmp_path / "plain").write_text("a file, not a directory")
    target = tmp_path / "plain" / "child"
    with pytest.raises(ResourceFailure) as caught:
        await LocalFile().create(make_ctx(), props(LocalFile, {"path": str(target)}))
    message = str(caught.value)
    assert message.startswith(f"cannot write {target}: ")
    assert "\n" not in message


async def test_failed_write_leaves_no_temporary_file(
    tmp_path: Path, make_ctx: MakeCtx, props: Props
) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(ResourceFailure, match="Is a directory"):
        await LocalFile().create(make_ctx(), props(LocalFile, {"path": str(tmp_path / "taken")}))
    assert os.listdir(tmp_path) == ["taken"]


async def test_delete_failure_is_reported(tmp_path: Path, make_ctx: MakeCtx, props: Props) -> None:
    (tmp_path / "dir").mkdir()
    values = props(LocalFile, {"path": str(tmp_path / "dir")})
    with pytest.raises(
        ResourceFailure, match="^" + re.escape(f"cannot delete {tmp_path / 'dir'}: ")
    ):
        await LocalFile().delete(make_ctx(Operation.DELETE), str(tmp_path / "dir"), values)
