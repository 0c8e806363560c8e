"""Reading template text: YAML 1.1 as Heat reads it, into plain dicts and lists.

PyYAML's SafeLoader (libyaml's when available), so unquoted `yes`/`off` are
booleans, with one Heat adjustment: timestamps stay strings, so
`heat_template_version: 2018-08-31` is the string Heat sees. Every mapping key
must be a string. Problems are `TemplateError`s naming the source, with line
and column for syntax errors.
"""

from __future__ import annotations

from typing import Any

import yaml

from supervisor.errors import TemplateError
from supervisor.template.model import DEFAULT_LIMITS, Limits
from supervisor.template.nodes import index_path, key_path, kind_of, show

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_MAX = 200_000


class _Loader(_Base):  # type: ignore[misc]
    """SafeLoader that keeps timestamps as strings, as Heat's loader does.

    The tag of a plain scalar depends only on its text, and generated templates
    repeat the same texts many times, so tags are remembered: resolving them is
    most of PyYAML's time on large templates.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX:
                    _PLAIN_TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


def _timestamp_as_string(loader: Any, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def load_yaml(text: str, source: str, what: str) -> Any:
    """The document in `text`, or a TemplateError with the line and column of a syntax error."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = err.problem or err.context or "syntax error"
        raise TemplateError("", f"invalid YAML{where}: {problem}", source=source) from None
    except yaml.YAMLError as err:
        raise TemplateError("", f"invalid YAML: {err}", source=source) from None
    except RecursionError:
        raise TemplateError("", f"the {what} nests too deeply to parse", source=source) from None


def check_keys(document: Any, source: str) -> None:
    """Raise a TemplateError at the first mapping key that is not a string."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TemplateError(
                        path,
                        f"keys must be strings, got {show(key)} ({kind_of(key)})",
                        source=source,
                    )
                stack.append((item, key_path(path, key)))
        elif isinstance(value, list):
            stack.extend((item, index_path(path, i)) for i, item in enumerate(value))


def parse_template(
    text: str, *, source: str = "template", limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The template document in `text`: a mapping of sections."""
    size = len(text.encode("utf-8"))
    if size > limits.max_template_bytes:
        raise TemplateError(
            "",
            f"template is {size} bytes; the limit is {limits.max_template_bytes} bytes",
            source=source,
        )
    document = load_yaml(text, source, "template") if text.strip() else None
    if document is None:
        raise TemplateError("", "the template is empty", source=source)
    if not isinstance(document, dict):
        raise TemplateError(
            "", f"the template must be a map of sections, got {kind_of(document)}", source=source
        )
    check_keys(document, source)
    return document
