"""String functions: list_join, str_replace (and its strict forms), str_split, digest, make_url.

Rendering rules follow Heat: null renders as "", booleans as True/False
(Python's str), and, from 2015-10-15, lists and maps as JSON with sorted keys.
`check` functions look at the literal parts of the arguments at compile time;
`apply` functions re-check everything, because computed arguments arrive only
at resolve time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib import parse as urlparse

from supervisor.errors import TemplateError
from supervisor.template.nodes import Call, Evaluation, FunctionSpec, kind_of, show


def render(value: Any, *, containers_as_json: bool) -> str | None:
    """The text a value contributes to a string, or None if it cannot be rendered."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    if containers_as_json and isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True)
    return None


# list_join --------------------------------------------------------------------------------------

_JOIN_EXPECTED = "expected [delimiter, list]"


def make_list_join(multiple: bool) -> FunctionSpec:
    """list_join; `multiple` (2015-10-15+) joins several lists and renders containers as JSON."""

    def check(args: Any, path: str, ev: Evaluation) -> None:
        if not isinstance(args, list):
            raise TemplateError(path, f"{_JOIN_EXPECTED}, got {kind_of(args)}")
        if len(args) < 2 or (not multiple and len(args) > 2):
            raise TemplateError(path, f"{_JOIN_EXPECTED}, got {len(args)} argument(s)")
        if not isinstance(args[0], Call | str):
            raise TemplateError(path, f"the delimiter must be a string, got {kind_of(args[0])}")
        for item in args[1:]:
            if not isinstance(item, Call | list) and item is not None and item != "":
                raise TemplateError(path, f"expected a list to join, got {kind_of(item)}")

    def apply(args: Any, path: str, ev: Evaluation) -> Any:
        check(args, path, ev)
        pieces: list[str] = []
        for items in args[1:]:
            for item in items or ():
                text = render(item, containers_as_json=multiple)
                if text is None:
                    raise TemplateError(
                        path, f"items to join must be strings or numbers, got {kind_of(item)}"
                    )
                pieces.append(text)
        return str(args[0]).join(pieces)

    return FunctionSpec("list_join", check, apply)


# str_replace ------------------------------------------------------------------------------------


def substitute(template: str, values: Mapping[str, str]) -> tuple[str, set[str]]:
    """Heat's replacement: longest placeholder first (ties by name); replaced text is final.

    Returns the result and the placeholders that occurred in the template.
    """
    segments: list[tuple[bool, str]] = [(True, template)]
    found: set[str] = set()
    for key in sorted(values, key=lambda k: (-len(k), k)):
        replacement = values[key]
        updated: list[tuple[bool, str]] = []
        for open_text, text in segments:
            if not open_text or key not in text:
                updated.append((open_text, text))
                continue
            found.add(key)
            for index, part in enumerate(text.split(key)):
                if index:
                    updated.append((False, replacement))
                if part:
                    updated.append((True, part))
        segments = updated
    return "".join(text for _, text in segments), found


def make_str_replace(name: str, *, as_json: bool, strict: bool, vstrict: bool) -> FunctionSpec:
    expected = "expected {template: ..., params: {...}}"

    def check(args: Any, path: str, ev: Evaluation) -> None:
        if not isinstance(args, dict):
            raise TemplateError(path, f"{expected}, got {kind_of(args)}")
        for key in ("template", "params"):
            if key not in args:
                raise TemplateError(path, f"{expected}, missing {key!r}")
        if not isinstance(args["template"], Call | str):
            raise TemplateError(
                path, f"the template must be a string, got {kind_of(args['template'])}"
            )
        if not isinstance(args["params"], Call | dict):
            raise TemplateError(path, f"params must be a map, got {kind_of(args['params'])}")

    def rendered(param: str, value: Any, path: str) -> str:
        if vstrict and (value is None or value == "" or value == [] or value == {}):
            raise TemplateError(path, f"param {param!r} has an empty value")
        text = render(value, containers_as_json=as_json)
        if text is None:
            allowed = "strings, numbers, lists or maps" if as_json else "strings or numbers"
            raise TemplateError(path, f"param {param!r} must be {allowed}, got {kind_of(value)}")
        return text

    def apply(args: Any, path: str, ev: Evaluation) -> Any:
        check(args, path, ev)
        params = args["params"]
        if any(key == "" for key in params):
            raise TemplateError(path, "param placeholders must not be empty")
        values = {str(key): rendered(str(key), value, path) for key, value in params.items()}
        result, found = substitute(args["template"], values)
        missing = sorted(set(values) - found, key=lambda k: (-len(k), k))
        if strict and missing:
            raise TemplateError(path, f"params not found in the template: {', '.join(missing)}")
        return result

    return FunctionSpec(name, check, apply)


# str_split --------------------------------------------------------------------------------------


def _check_str_split(args: Any, path: str, ev: Evaluation) -> None:
    if isinstance(args, Call):
        return
    if not isinstance(args, list) or not 2 <= len(args) <= 3:
        raise TemplateError(path, f"expected [delimiter, string, (index)], got {_count(args)}")
    if not isinstance(args[0], Call | str):
        raise TemplateError(path, f"the delimiter must be a string, got {kind_of(args[0])}")


def _apply_str_split(args: Any, path: str, ev: Evaluation) -> Any:
    _check_str_split(args, path, ev)
    delimiter, text = args[0], args[1]
    if text is None:
        return None
    if not isinstance(text, str):
        raise TemplateError(path, f"expected a string to split, got {kind_of(text)}")
    if delimiter == "":
        raise TemplateError(path, "the delimiter must not be empty")
    parts = text.split(delimiter)
    if len(args) == 2:
        return parts
    try:
        index = int(args[2])
    except (TypeError, ValueError):
        raise TemplateError(path, f"the index must be an integer, got {show(args[2])}") from None
    if not -len(parts) <= index < len(parts):
        raise TemplateError(path, f"index {index} is out of range 0 to {len(parts) - 1}")
    return parts[index]


STR_SPLIT = FunctionSpec("str_split", _check_str_split, _apply_str_split)


def _count(args: Any) -> str:
    return f"{len(args)} argument(s)" if isinstance(args, list) else kind_of(args)


# digest -----------------------------------------------------------------------------------------

#: shake algorithms need an output length, which digest has no way to give
ALGORITHMS = frozenset(
    name.lower() for name in hashlib.algorithms_available if not name.lower().startswith("shake")
)


def _check_digest(args: Any, path: str, ev: Evaluation) -> None:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateError(path, f"expected [algorithm, value], got {_count(args)}")
    for item in args:
        if not isinstance(item, Call | str):
            raise TemplateError(path, f"expected [algorithm, value] strings, got {kind_of(item)}")
    algorithm = args[0]
    if isinstance(algorithm, str) and algorithm.lower() not in ALGORITHMS:
        raise TemplateError(
            path,
            f"unknown algorithm {algorithm!r}; expected one of {', '.join(sorted(ALGORITHMS))}",
        )


def _apply_digest(args: Any, path: str, ev: Evaluation) -> Any:
    _check_digest(args, path, ev)
    try:
        data = args[1].encode("latin-1")
    except UnicodeEncodeError:
        raise TemplateError(path, "the value has characters outside latin-1") from None
    return hashlib.new(args[0].lower(), data).hexdigest()


DIGEST = FunctionSpec("digest", _check_digest, _apply_digest)


# make_url ---------------------------------------------------------------------------------------

_URL_KEYS = ("scheme", "username", "password", "host", "port", "path", "query", "fragment")


def _check_url_arg(key: str, value: Any, path: str) -> None:
    if isinstance(value, Call) or value is None:
        return
    if key == "query":
        if not isinstance(value, dict):
            raise TemplateError(path, f"query must be a map, got {kind_of(value)}")
    elif key == "port":
        try:
            port = int(value) if not isinstance(value, bool) else -1
        except (TypeError, ValueError):
            raise TemplateError(path, f"invalid port {show(value)}") from None
        if not 0 < port <= 65535:
            raise TemplateError(path, f"invalid port {show(value)}; must be in range 1-65535")
    elif not isinstance(value, str):
        raise TemplateError(path, f"{key} must be a string, got {kind_of(value)}")


def _check_make_url(args: Any, path: str, ev: Evaluation) -> None:
    if not isinstance(args, dict):
        raise TemplateError(path, f"expected a map of URL parts, got {kind_of(args)}")
    unknown = sorted(set(args) - set(_URL_KEYS))
    if unknown:
        raise TemplateError(
            path, f"unknown URL part(s) {', '.join(unknown)}; expected {', '.join(_URL_KEYS)}"
        )
    for key, value in args.items():
        _check_url_arg(key, value, path)


def _netloc(args: Mapping[str, Any]) -> str:
    username = urlparse.quote(args.get("username") or "", safe="")
    password = urlparse.quote(args.get("password") or "", safe="")
    credentials = ""
    if username or password:
        credentials = username + (f":{password}" if password else "") + "@"
    host = args.get("host") or ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = urlparse.quote(host, safe=":")
    if ":" in host:
        host = f"[{host}]"
    port = args.get("port")
    return credentials + host + (f":{port}" if port not in (None, "") else "")


def _apply_make_url(args: Any, path: str, ev: Evaluation) -> Any:
    _check_make_url(args, path, ev)
    scheme = args.get("scheme") or ""
    if ":" in scheme:
        raise TemplateError(path, "scheme must not contain ':'")
    query = urlparse.urlencode(args.get("query") or {}).replace("%2F", "/")
    return urlparse.urlunsplit(
        (
            scheme,
            _netloc(args),
            urlparse.quote(args.get("path") or ""),
            query,
            urlparse.quote(args.get("fragment") or ""),
        )
    )


MAKE_URL = FunctionSpec("make_url", _check_make_url, _apply_make_url)
