"""HOT template versions: which functions, condition functions and features each one has.

The tables follow Heat's `heat/engine/hot/template.py` version by version.
A one-key map whose key is in a version's `functions` is a function call in
that version; any other one-key map is plain data. Names Heat keeps as
"removed" (the CloudFormation functions after 2013-05-23, Fn::Select after
2015-04-30) are calls that fail, as in Heat.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template import fn_collections as col
from supervisor.template import fn_refs as refs
from supervisor.template import fn_strings as strs
from supervisor.template.fn_yaql import YAQL
from supervisor.template.nodes import Evaluation, FunctionSpec


def _special(args: Any, path: str, ev: Evaluation) -> Any:
    raise AssertionError(f"{path}: handled by the value compiler, never applied")


#: functions the value compiler handles itself (lazily evaluated conditions)
IF = FunctionSpec("if", _special, _special)
NOT = FunctionSpec("not", _special, _special)
AND = FunctionSpec("and", _special, _special)
OR = FunctionSpec("or", _special, _special)
LOGICAL = frozenset({"not", "and", "or"})


@dataclass(frozen=True)
class TemplateVersion:
    name: str
    functions: Mapping[str, FunctionSpec]
    #: empty before 2016-10-14, which has no conditions section
    condition_functions: Mapping[str, FunctionSpec]
    #: `if` may omit the false value, which then removes the enclosing item (2021-04-16)
    nullable_if: bool = False
    #: deletion_policy also accepts "delete" and "retain" (2016-10-14)
    lowercase_policies: bool = False
    #: parameters accept the modulo constraint (2017-02-24)
    modulo: bool = False
    #: parameters accept `tags` (2018-03-02)
    parameter_tags: bool = False

    @property
    def has_conditions(self) -> bool:
        return bool(self.condition_functions)


_CFN = (
    "Fn::GetAZs",
    "Ref",
    "Fn::Join",
    "Fn::Split",
    "Fn::Replace",
    "Fn::Base64",
    "Fn::MemberListToMap",
    "Fn::ResourceFacade",
)


def _table(
    version: str, specs: list[FunctionSpec], removed: tuple[str, ...]
) -> dict[str, FunctionSpec]:
    table = {spec.name: spec for spec in specs}
    table.update({name: refs.removed(name, version) for name in removed})
    return table


def _function_lists() -> dict[str, list[FunctionSpec]]:
    """Each version's functions, as Heat's HOTemplate classes list them."""
    base = [refs.GET_FILE, refs.GET_PARAM, refs.GET_RESOURCE, refs.RESOURCE_FACADE]
    replace = strs.make_str_replace("str_replace", as_json=False, strict=False, vstrict=False)
    old = [*base, refs.GET_ATTR, strs.make_list_join(multiple=False), replace]
    v2014 = [*old, refs.SELECT]
    v2015a = [*v2014, strs.DIGEST, col.make_repeat(maps=False, permutations=False)]
    v2015b = [
        *base,
        refs.GET_ATTR_ALL,
        strs.make_list_join(multiple=True),
        strs.make_str_replace("str_replace", as_json=True, strict=False, vstrict=False),
        strs.DIGEST,
        col.make_repeat(maps=False, permutations=False),
        strs.STR_SPLIT,
    ]
    v2016a = [*v2015b, col.MAP_MERGE]
    v2016b = [*v2016a, YAQL, col.MAP_REPLACE, IF, col.make_repeat(maps=True, permutations=False)]
    v2017a = [
        *v2016b,
        col.FILTER,
        strs.make_str_replace("str_replace_strict", as_json=True, strict=True, vstrict=False),
    ]
    v2017b = [
        *v2017a,
        strs.MAKE_URL,
        col.make_list_concat(unique=False),
        col.make_list_concat(unique=True),
        col.CONTAINS,
        col.make_repeat(maps=True, permutations=True),
        strs.make_str_replace("str_replace_vstrict", as_json=True, strict=True, vstrict=True),
    ]
    return {
        "2013-05-23": [*v2014, *(refs.cfn_unsupported(name) for name in _CFN)],
        "2014-10-16": v2014,
        "2015-04-30": v2015a,
        "2015-10-15": v2015b,
        "2016-04-08": v2016a,
        "2016-10-14": v2016b,
        "2017-02-24": v2017a,
        "2017-09-01": v2017b,
        "2018-03-02": v2017b,
        "2018-08-31": v2017b,
        "2021-04-16": v2017b,
    }


def _build() -> dict[str, TemplateVersion]:
    cond_2016 = {s.name: s for s in (refs.GET_PARAM, col.EQUALS, NOT, AND, OR)}
    cond_2017 = {**cond_2016, "yaql": YAQL, "contains": col.CONTAINS}
    versions = {}
    for name, specs in _function_lists().items():
        removed = (
            () if name == "2013-05-23" else _CFN if name < "2015-10-15" else (*_CFN, "Fn::Select")
        )
        versions[name] = TemplateVersion(
            name,
            _table(name, specs, removed),
            {} if name < "2016-10-14" else cond_2016 if name < "2017-09-01" else cond_2017,
            nullable_if=name >= "2021-04-16",
            lowercase_policies=name >= "2016-10-14",
            modulo=name >= "2017-02-24",
            parameter_tags=name >= "2018-03-02",
        )
    return versions


VERSIONS = _build()
RELEASE_NAMES = {
    "newton": "2016-10-14",
    "ocata": "2017-02-24",
    "pike": "2017-09-01",
    "queens": "2018-03-02",
    "rocky": "2018-08-31",
    "wallaby": "2021-04-16",
}
#: every name that is a function or condition function in some version
ALL_FUNCTION_NAMES = frozenset(
    name
    for version in VERSIONS.values()
    for name in (*version.functions, *version.condition_functions)
)


def accepted_versions() -> str:
    return ", ".join([*VERSIONS, *RELEASE_NAMES])


def version_of(value: Any) -> TemplateVersion:
    """The version a `heat_template_version` value names, or a TemplateError."""
    if isinstance(value, datetime.date):
        value = value.isoformat()
    if value is None:
        raise TemplateError(
            "heat_template_version", f"is required; accepted versions: {accepted_versions()}"
        )
    name = RELEASE_NAMES.get(str(value), str(value))
    version = VERSIONS.get(name)
    if version is None:
        raise TemplateError(
            "heat_template_version",
            f"unknown version {str(value)!r}; accepted versions: {accepted_versions()}",
        )
    return version
