"""References from compiled values to resources: get_resource and get_attr calls.

After `if` is reduced, the calls left in a value are exactly the references it
makes. Each must name a resource of the template that is enabled (its
condition true), and get_attr must name an attribute the resource's type
declares, unless the type accepts any attribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.base import ResourceActor
from supervisor.errors import TemplateError
from supervisor.template.model import AttrRef
from supervisor.template.nodes import iter_calls


@dataclass(frozen=True)
class Reference:
    resource: str
    #: None for get_resource and for the all-attributes get_attr
    attribute: str | None
    is_attr: bool
    #: template path of the call
    path: str


def references_in(tree: Any) -> list[Reference]:
    found = []
    for call in iter_calls(tree):
        if call.spec.name == "get_resource":
            found.append(Reference(call.args, None, False, call.path))
        elif call.spec.name == "get_attr":
            attribute = call.args[1] if len(call.args) > 1 else None
            found.append(Reference(call.args[0], attribute, True, call.path))
    return found


def split_references(refs: Iterable[Reference]) -> tuple[frozenset[AttrRef], frozenset[str]]:
    """(attribute_refs, resource_refs) as a definition records them."""
    attrs = frozenset(AttrRef(r.resource, r.attribute) for r in refs if r.is_attr)
    resources = frozenset(r.resource for r in refs if not r.is_attr)
    return attrs, resources


def check_references(
    refs: Iterable[Reference],
    classes: Mapping[str, type[ResourceActor]],
    disabled: Mapping[str, str],
) -> None:
    """Raise a TemplateError at the first reference to a missing, disabled or unknown thing.

    `classes` holds the enabled resources; `disabled` maps each disabled resource
    to a description of its condition.
    """
    for ref in refs:
        cls = classes.get(ref.resource)
        if cls is None:
            if ref.resource in disabled:
                raise TemplateError(
                    ref.path,
                    f"resource {ref.resource!r} is not created: {disabled[ref.resource]} is false",
                )
            raise TemplateError(ref.path, f"unknown resource {ref.resource!r}")
        if (
            ref.attribute is not None
            and not cls.open_attributes
            and (ref.attribute not in cls.attributes_schema)
        ):
            known = ", ".join(sorted(cls.attributes_schema)) or "none"
            raise TemplateError(
                ref.path,
                f"resource {ref.resource!r} ({cls.type_name}) has no attribute "
                f"{ref.attribute!r}; its attributes: {known}",
            )
