"""Every intrinsic function on valid and invalid input, one table per function.

Each expression is the `value` property of a Test::Value resource `v`, so a
function's path is "resources.v.properties.value.<function>".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from supervisor.errors import TemplateError
from supervisor.template import Limits, ResourceData

P = "resources.v.properties.value"
PARAMS = {
    "s": {"type": "string", "default": "abc"},
    "j": {"type": "json", "default": {"a": {"b": 5}, "l": [1, 2]}},
    "n": {"type": "number", "default": 80},
    "b": {"type": "boolean", "default": True},
    "csv": {"type": "comma_delimited_list", "default": "x,y"},
}

ValueOf = Callable[..., Any]


def check(value_of: ValueOf, expr: Any, expected: Any, version: str = "2018-08-31") -> None:
    assert value_of(expr, version, parameters=PARAMS) == expected


def check_error(
    value_of: ValueOf, expr: Any, path: str, message: str, version: str = "2018-08-31"
) -> None:
    with pytest.raises(TemplateError) as info:
        value_of(expr, version, parameters=PARAMS)
    assert info.value.path == path
    assert message in info.value.reason


# get_param ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"get_param": "s"}, "abc"),
        ({"get_param": "n"}, 80),
        ({"get_param": "b"}, True),
        ({"get_param": "csv"}, ["x", "y"]),
        ({"get_param": ["j", "a", "b"]}, 5),
        ({"get_param": ["j", "l", "1"]}, 2),
        ({"get_param": ["j", "l", 0]}, 1),
        ({"get_param": ["j", "missing"]}, ""),
        ({"get_param": ["j", "l", "x"]}, ""),
        ({"get_param": ["j", "l", 9]}, ""),
        ({"get_param": ["n", "deeper"]}, ""),
        ({"get_param": "OS::stack_name"}, "teststack"),
        ({"get_param": "OS::stack_id"}, "id-1234"),
        ({"get_param": "OS::project_id"}, "proj-9"),
    ],
)
def test_get_param(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"get_param": "nope"}, "unknown parameter 'nope'"),
        ({"get_param": {"a": 1}}, "expected a parameter name or [name, path...], got a map"),
        ({"get_param": []}, "expected a parameter name or [name, path...], got a list"),
        ({"get_param": [5]}, "the parameter name must be a string, got a number"),
    ],
)
def test_get_param_errors(value_of: ValueOf, expr: Any, message: str) -> None:
    check_error(value_of, expr, f"{P}.get_param", message)


# get_resource, get_attr --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"get_resource": "net"}, "net-id"),
        ({"get_attr": ["net", "cidr"]}, "10.0.0.0/24"),
        ({"get_attr": ["net", "subnets", 1]}, "s2"),
        ({"get_attr": ["net", "subnets", 5]}, None),
        ({"get_attr": ["net", "subnets", "0"]}, None),
        ({"get_attr": ["net", "cidr", "x"]}, None),
        ({"get_attr": ["net"]}, {"cidr": "10.0.0.0/24", "subnets": ["s1", "s2"]}),
    ],
)
def test_references(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    "expr",
    [{"get_resource": "net"}, {"get_attr": ["net", "cidr"]}, {"get_attr": ["net"]}],
)
def test_references_to_a_resource_not_created_yet_are_null(value_of: ValueOf, expr: Any) -> None:
    assert value_of(expr, created={}) is None


def test_get_resource_without_physical_id_is_null(value_of: ValueOf) -> None:
    created = {"net": ResourceData(None, {})}
    assert value_of({"get_resource": "net"}, created=created) is None


@pytest.mark.parametrize(
    ("expr", "path", "message", "version"),
    [
        ({"get_resource": "nope"}, "get_resource", "unknown resource 'nope'", "2018-08-31"),
        (
            {"get_resource": ["net"]},
            "get_resource",
            "expected a resource name, got a list",
            "2018-08-31",
        ),
        ({"get_attr": ["nope", "x"]}, "get_attr", "unknown resource 'nope'", "2018-08-31"),
        (
            {"get_attr": ["net", "nope"]},
            "get_attr",
            "resource 'net' (Test::Net) has no attribute 'nope'",
            "2018-08-31",
        ),
        ({"get_attr": "net.cidr"}, "get_attr", "got a string", "2018-08-31"),
        ({"get_attr": []}, "get_attr", "got 0 argument(s)", "2018-08-31"),
        (
            {"get_attr": ["net"]},
            "get_attr",
            "expected [resource_name, attribute, path...], got 1 argument(s)",
            "2015-04-30",
        ),
        (
            {"get_attr": ["net", {"get_attr": ["net", "cidr"]}]},
            "get_attr",
            "the attribute name must be known at compile time, got a get_attr call",
            "2018-08-31",
        ),
    ],
)
def test_reference_errors(
    value_of: ValueOf, expr: Any, path: str, message: str, version: str
) -> None:
    check_error(value_of, expr, f"{P}.{path}", message, version)


def test_get_attr_names_from_parameters_are_resolved_at_compile_time(value_of: ValueOf) -> None:
    params = {"r": {"type": "string", "default": "net"}, "a": {"type": "string", "default": "cidr"}}
    expr = {"get_attr": [{"get_param": "r"}, {"get_param": "a"}]}
    assert value_of(expr, parameters=params) == "10.0.0.0/24"


# get_file ----------------------------------------------------------------------------------------


def test_get_file(value_of: ValueOf) -> None:
    files = {"a.txt": "hello\n"}
    assert value_of({"get_file": "a.txt"}, files=files) == "hello\n"


def test_get_file_not_collected(value_of: ValueOf) -> None:
    with pytest.raises(TemplateError) as info:
        value_of({"get_file": "b.txt"}, files={"a.txt": "x"})
    assert info.value.path == f"{P}.get_file"
    assert "no content for file 'b.txt'" in info.value.reason


# list_join ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected", "version"),
    [
        ({"list_join": [",", ["a", "b"]]}, "a,b", "2018-08-31"),
        ({"list_join": [", ", ["a"], ["b", "c"]]}, "a, b, c", "2018-08-31"),
        (
            {"list_join": [",", [{"b": 1, "a": [True]}, [1, "x"]]]},
            '{"a": [true], "b": 1},[1, "x"]',
            "2018-08-31",
        ),
        ({"list_join": ["-", [True, False, 3, 1.5, None]]}, "True-False-3-1.5-", "2018-08-31"),
        ({"list_join": ["-", {"get_param": "csv"}]}, "x-y", "2018-08-31"),
        ({"list_join": [",", None]}, "", "2018-08-31"),
        ({"list_join": [",", ["a", "b"]]}, "a,b", "2013-05-23"),
    ],
)
def test_list_join(value_of: ValueOf, expr: Any, expected: Any, version: str) -> None:
    check(value_of, expr, expected, version)


@pytest.mark.parametrize(
    ("expr", "message", "version"),
    [
        ({"list_join": "a,b"}, "expected [delimiter, list], got a string", "2018-08-31"),
        ({"list_join": [","]}, "expected [delimiter, list], got 1 argument(s)", "2018-08-31"),
        ({"list_join": [1, ["a"]]}, "the delimiter must be a string, got a number", "2018-08-31"),
        ({"list_join": [",", "a"]}, "expected a list to join, got a string", "2018-08-31"),
        (
            {"list_join": [",", ["a"], ["b"]]},
            "expected [delimiter, list], got 3 argument(s)",
            "2015-04-30",
        ),
        (
            {"list_join": [",", [["a"]]]},
            "items to join must be strings or numbers, got a list",
            "2015-04-30",
        ),
    ],
)
def test_list_join_errors(value_of: ValueOf, expr: Any, message: str, version: str) -> None:
    check_error(value_of, expr, f"{P}.list_join", message, version)


def test_list_join_checks_computed_arguments_at_resolve_time(value_of: ValueOf) -> None:
    with pytest.raises(TemplateError) as info:
        value_of({"list_join": [",", {"get_attr": ["net", "cidr"]}]})
    assert info.value.path == f"{P}.list_join"
    assert info.value.reason == "expected a list to join, got a string"


# str_replace and its strict forms ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected", "version"),
    [
        (
            {"str_replace": {"template": "$a-$b", "params": {"$a": "x", "$b": "y"}}},
            "x-y",
            "2018-08-31",
        ),
        (
            {"str_replace": {"template": "$var $var2", "params": {"$var": "a", "$var2": "b"}}},
            "a b",
            "2018-08-31",
        ),
        (
            {"str_replace": {"template": "abcd", "params": {"bcd": "X", "ab": "Y"}}},
            "aX",
            "2018-08-31",
        ),
        ({"str_replace": {"template": "ab", "params": {"a": "b", "b": "c"}}}, "bc", "2018-08-31"),
        ({"str_replace": {"template": "v=V", "params": {"V": True}}}, "v=True", "2018-08-31"),
        ({"str_replace": {"template": "v=V", "params": {"V": 5}}}, "v=5", "2018-08-31"),
        ({"str_replace": {"template": "v=V", "params": {"V": None}}}, "v=", "2018-08-31"),
        (
            {"str_replace": {"template": "v=V", "params": {"V": {"b": 1, "a": False}}}},
            'v={"a": false, "b": 1}',
            "2018-08-31",
        ),
        (
            {"str_replace": {"template": "v=V", "params": {"V": {"get_param": "csv"}}}},
            'v=["x", "y"]',
            "2018-08-31",
        ),
        ({"str_replace": {"template": "v=V", "params": {"V": "x", "W": "y"}}}, "v=x", "2018-08-31"),
        ({"str_replace": {"template": "v=V", "params": {"V": True}}}, "v=True", "2013-05-23"),
        ({"str_replace_strict": {"template": "v=V", "params": {"V": "x"}}}, "v=x", "2018-08-31"),
        ({"str_replace_vstrict": {"template": "v=V", "params": {"V": 0}}}, "v=0", "2018-08-31"),
    ],
)
def test_str_replace(value_of: ValueOf, expr: Any, expected: Any, version: str) -> None:
    check(value_of, expr, expected, version)


@pytest.mark.parametrize(
    ("expr", "message", "version"),
    [
        (
            {"str_replace": "x"},
            "expected {template: ..., params: {...}}, got a string",
            "2018-08-31",
        ),
        ({"str_replace": {"template": "x"}}, "missing 'params'", "2018-08-31"),
        ({"str_replace": {"params": {}}}, "missing 'template'", "2018-08-31"),
        (
            {"str_replace": {"template": "x", "params": ["a"]}},
            "params must be a map, got a list",
            "2018-08-31",
        ),
        (
            {"str_replace": {"template": 5, "params": {}}},
            "the template must be a string",
            "2018-08-31",
        ),
        (
            {"str_replace": {"template": "V", "params": {"V": ["a"]}}},
            "param 'V' must be strings or numbers, got a list",
            "2015-04-30",
        ),
    ],
)
def test_str_replace_errors(value_of: ValueOf, expr: Any, message: str, version: str) -> None:
    check_error(value_of, expr, f"{P}.str_replace", message, version)


def test_str_replace_strict_needs_every_param_in_the_template(value_of: ValueOf) -> None:
    expr = {"str_replace_strict": {"template": "v=V", "params": {"V": "x", "$xx": 1, "$y": 2}}}
    check_error(
        value_of, expr, f"{P}.str_replace_strict", "params not found in the template: $xx, $y"
    )


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_str_replace_vstrict_refuses_empty_values(value_of: ValueOf, empty: Any) -> None:
    expr = {"str_replace_vstrict": {"template": "v=V", "params": {"V": empty}}}
    check_error(value_of, expr, f"{P}.str_replace_vstrict", "param 'V' has an empty value")


# str_split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"str_split": [",", "a,b,c"]}, ["a", "b", "c"]),
        ({"str_split": [",", "a, b"]}, ["a", " b"]),
        ({"str_split": [",", "a,b,c", 1]}, "b"),
        ({"str_split": [",", "a,b,c", "2"]}, "c"),
        ({"str_split": [",", None]}, None),
    ],
)
def test_str_split(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"str_split": "a,b"}, "expected [delimiter, string, (index)], got a string"),
        ({"str_split": [","]}, "got 1 argument(s)"),
        ({"str_split": [1, "a"]}, "the delimiter must be a string, got a number"),
        ({"str_split": [",", 5]}, "expected a string to split, got a number"),
        ({"str_split": [",", "a,b", 2]}, "index 2 is out of range 0 to 1"),
        ({"str_split": [",", "a,b", "x"]}, 'the index must be an integer, got "x"'),
    ],
)
def test_str_split_errors(value_of: ValueOf, expr: Any, message: str) -> None:
    check_error(value_of, expr, f"{P}.str_split", message)


# digest ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"digest": ["sha256", "abc"]}, hashlib.sha256(b"abc").hexdigest()),
        ({"digest": ["SHA512", "abc"]}, hashlib.sha512(b"abc").hexdigest()),
        ({"digest": ["md5", "caf\u00e9"]}, hashlib.md5("caf\u00e9".encode("latin-1")).hexdigest()),
        ({"digest": ["sha1", {"get_param": "s"}]}, hashlib.sha1(b"abc").hexdigest()),
    ],
)
def test_digest(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"digest": ["nope", "x"]}, "unknown algorithm 'nope'; expected one of"),
        ({"digest": ["sha256"]}, "expected [algorithm, value], got 1 argument(s)"),
        ({"digest": ["sha256", 5]}, "expected [algorithm, value] strings, got a number"),
        ({"digest": ["sha256", "\u20ac"]}, "the value has characters outside latin-1"),
    ],
)
def test_digest_errors(value_of: ValueOf, expr: Any, message: str) -> None:
    check_error(value_of, expr, f"{P}.digest", message)


# repeat ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected", "version"),
    [
        (
            {"repeat": {"for_each": {"%x%": ["a", "b"]}, "template": "v-%x%"}},
            ["v-a", "v-b"],
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {"%x%": ["a", "b"], "%y%": [1, 2]}, "template": "%x%%y%"}},
            ["a1", "a2", "b1", "b2"],
            "2018-08-31",
        ),
        (
            {
                "repeat": {
                    "for_each": {"%x%": ["a", "b"], "%y%": [1, 2]},
                    "template": "%x%%y%",
                    "permutations": False,
                }
            },
            ["a1", "b2"],
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {"%x%": {"k1": 1, "k2": 2}}, "template": "%x%"}},
            ["k1", "k2"],
            "2016-10-14",
        ),
        (
            {
                "repeat": {
                    "for_each": {"<p>": [80, 443]},
                    "template": {"port": "<p>", "name-<p>": ["<p>"]},
                }
            },
            [{"port": "80", "name-80": ["80"]}, {"port": "443", "name-443": ["443"]}],
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {"%x%": {"get_param": "csv"}}, "template": "%x%!"}},
            ["x!", "y!"],
            "2018-08-31",
        ),
        ({"repeat": {"for_each": {"%x%": None}, "template": "%x%"}}, [], "2018-08-31"),
        ({"repeat": {"for_each": {"%x%": ["a"]}, "template": "%x%"}}, ["a"], "2015-04-30"),
    ],
)
def test_repeat(value_of: ValueOf, expr: Any, expected: Any, version: str) -> None:
    check(value_of, expr, expected, version)


@pytest.mark.parametrize(
    ("expr", "message", "version"),
    [
        (
            {"repeat": ["a"]},
            "expected {for_each: {placeholder: list}, template: ...}, got a list",
            "2018-08-31",
        ),
        ({"repeat": {"for_each": {"%x%": ["a"]}}}, "missing 'template'", "2018-08-31"),
        ({"repeat": {"template": "x"}}, "missing 'for_each'", "2018-08-31"),
        (
            {"repeat": {"for_each": ["a"], "template": "x"}},
            "for_each must be a map, got a list",
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {"%x%": "abc"}, "template": "x"}},
            "for_each.%x% must be a list or a map, got a string",
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {"%x%": {"a": 1}}, "template": "x"}},
            "for_each.%x% must be a list, got a map",
            "2016-04-08",
        ),
        (
            {
                "repeat": {
                    "for_each": {"%x%": ["a"], "%y%": [1, 2]},
                    "template": "x",
                    "permutations": False,
                }
            },
            "for_each lists must have equal lengths when permutations is false",
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {"%x%": ["a"]}, "template": "x", "permutations": "no"}},
            "permutations must be a boolean, got a string",
            "2018-08-31",
        ),
        (
            {"repeat": {"for_each": {}, "template": "x"}},
            "for_each must name at least one placeholder",
            "2018-08-31",
        ),
    ],
)
def test_repeat_errors(value_of: ValueOf, expr: Any, message: str, version: str) -> None:
    check_error(value_of, expr, f"{P}.repeat", message, version)


# map_merge, map_replace --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"map_merge": [{"a": 1}, {"a": 2, "b": 3}]}, {"a": 2, "b": 3}),
        ({"map_merge": [{"a": 1}, None]}, {"a": 1}),
        ({"map_merge": [{"get_param": "j"}, {"x": 1}]}, {"a": {"b": 5}, "l": [1, 2], "x": 1}),
        (
            {
                "map_replace": [
                    {"k1": "v1", "k2": "v2"},
                    {"keys": {"k1": "K1"}, "values": {"v2": "V2"}},
                ]
            },
            {"K1": "v1", "k2": "V2"},
        ),
        ({"map_replace": [{"k1": ["u"]}, {"values": {"v": "w"}}]}, {"k1": ["u"]}),
        ({"map_replace": [{"k1": "v1"}, {}]}, {"k1": "v1"}),
    ],
)
def test_map_functions(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    ("expr", "fn", "message"),
    [
        ({"map_merge": "a"}, "map_merge", "expected a list of maps, got a string"),
        ({"map_merge": [{"a": 1}, 5]}, "map_merge", "got an item that is a number"),
        ({"map_replace": [{"a": 1}]}, "map_replace", "got 1 argument(s)"),
        ({"map_replace": [{"a": 1}, {"kees": {}}]}, "map_replace", "got key(s) kees"),
        ({"map_replace": [{"a": 1}, {"keys": ["x"]}]}, "map_replace", "keys must be a map"),
        (
            {"map_replace": [{"a": 1, "b": 2}, {"keys": {"a": "b"}}]},
            "map_replace",
            "key replacement 'b' collides with a key in the input map",
        ),
        (
            {"map_replace": [{"a": 1, "b": 2}, {"keys": {"a": "c", "b": "c"}}]},
            "map_replace",
            "key replacement 'c' collides with a key in the output map",
        ),
    ],
)
def test_map_function_errors(value_of: ValueOf, expr: Any, fn: str, message: str) -> None:
    check_error(value_of, expr, f"{P}.{fn}", message)


# list_concat, list_concat_unique, contains, filter -----------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"list_concat": [[1, 2], [3], None, []]}, [1, 2, 3]),
        ({"list_concat": [{"get_param": "csv"}, ["z"]]}, ["x", "y", "z"]),
        ({"list_concat_unique": [["v1", "v2"], ["v2", "v3"]]}, ["v1", "v2", "v3"]),
        ({"list_concat_unique": [["b", "a"], ["b", "c"]]}, ["a", "b", "c"]),
        ({"list_concat_unique": [[{"a": 1}], [{"a": 1}, 2]]}, [{"a": 1}, 2]),
        ({"contains": ["a", ["a", "b"]]}, True),
        ({"contains": ["z", ["a", "b"]]}, False),
        ({"contains": ["x", {"get_param": "csv"}]}, True),
        ({"contains": ["bc", "abcd"]}, True),
        ({"filter": [[1], [1, 2, 1, 3]]}, [2, 3]),
        ({"filter": [None, [1, 2]]}, [1, 2]),
        ({"filter": [[1], None]}, None),
    ],
)
def test_list_functions(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    ("expr", "fn", "message"),
    [
        ({"list_concat": "ab"}, "list_concat", "expected a list of lists, got a string"),
        ({"list_concat": [[1], "ab"]}, "list_concat", "items to concatenate must be lists"),
        (
            {"list_concat_unique": [[1], {"a": 1}]},
            "list_concat_unique",
            "items to concatenate must be lists, got a map",
        ),
        ({"contains": ["a"]}, "contains", "expected [value, list], got 1 argument(s)"),
        ({"contains": ["a", 5]}, "contains", "the second argument must be a list, got a number"),
        ({"filter": [1]}, "filter", "expected [values, list], got 1 argument(s)"),
        ({"filter": [[1], {"a": 1}]}, "filter", "filter only works on lists, got a map"),
        ({"filter": [5, [1]]}, "filter", "the values to filter out must be a list"),
    ],
)
def test_list_function_errors(value_of: ValueOf, expr: Any, fn: str, message: str) -> None:
    check_error(value_of, expr, f"{P}.{fn}", message)


# make_url ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {
                "scheme": "http",
                "host": "example.com",
                "port": 8080,
                "path": "/a b",
                "query": {"x": "1/2", "y": "z"},
                "fragment": "f g",
            },
            "http://example.com:8080/a%20b?x=1/2&y=z#f%20g",
        ),
        ({"scheme": "https", "host": "::1", "port": "443"}, "https://[::1]:443"),
        ({"scheme": "https", "host": "[::1]", "path": "/"}, "https://[::1]/"),
        (
            {"scheme": "ftp", "username": "u@x", "password": "p:w", "host": "h"},
            "ftp://u%40x:p%3Aw@h",
        ),
        ({"scheme": "http", "username": "u", "host": "h"}, "http://u@h"),
    ],
)
def test_make_url(value_of: ValueOf, args: Any, expected: str) -> None:
    check(value_of, {"make_url": args}, expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("http://x", "expected a map of URL parts, got a string"),
        ({"hots": "x"}, "unknown URL part(s) hots"),
        ({"host": "x", "port": 70000}, "invalid port 70000; must be in range 1-65535"),
        ({"host": "x", "port": "http"}, 'invalid port "http"'),
        ({"host": 5}, "host must be a string, got a number"),
        ({"query": ["a"]}, "query must be a map, got a list"),
        ({"scheme": "http:", "host": "x"}, "scheme must not contain ':'"),
    ],
)
def test_make_url_errors(value_of: ValueOf, args: Any, message: str) -> None:
    check_error(value_of, {"make_url": args}, f"{P}.make_url", message)


# yaql --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"yaql": {"expression": "$.data.a.sum()", "data": {"a": [1, 2, 3]}}}, 6),
        ({"yaql": {"expression": "$.data.a.select($ * 2)", "data": {"a": [1, 2]}}}, [2, 4]),
        (
            {"yaql": {"expression": "$.data.a.l.where($ > 1)", "data": {"a": {"get_param": "j"}}}},
            [2],
        ),
        (
            {"yaql": {"expression": "dict(k => $.data.v)", "data": {"v": {"get_param": "s"}}}},
            {"k": "abc"},
        ),
        ({"yaql": {"expression": "1 + 2"}}, 3),
        (
            {"yaql": {"expression": "$.data.c", "data": {"c": {"get_attr": ["net", "cidr"]}}}},
            "10.0.0.0/24",
        ),
    ],
)
def test_yaql(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"yaql": "1 + 2"}, "expected {expression: ..., data: {...}}, got a string"),
        ({"yaql": {"data": {}}}, "missing 'expression'"),
        ({"yaql": {"expression": "1", "vars": {}}}, "got key(s) vars"),
        ({"yaql": {"expression": 5}}, "the expression must be a string, got a number"),
        ({"yaql": {"expression": "$.data.("}}, "bad expression:"),
        ({"yaql": {"expression": "$.data.nosuch()"}}, "evaluation failed:"),
        ({"yaql": {"expression": "range(100000).sum()"}}, "evaluation failed:"),
    ],
)
def test_yaql_errors(value_of: ValueOf, expr: Any, message: str) -> None:
    check_error(value_of, expr, f"{P}.yaql", message)


def test_yaql_syntax_error_is_found_at_compile_time_even_with_computed_data(
    value_of: ValueOf,
) -> None:
    expr = {"yaql": {"expression": "$.data.(", "data": {"c": {"get_attr": ["net", "cidr"]}}}}
    with pytest.raises(TemplateError) as info:
        value_of(expr, created={})
    assert info.value.path == f"{P}.yaql"


def test_yaql_limits(value_of: ValueOf) -> None:
    limits = Limits(max_yaql_expression=10, max_yaql_data=20)
    with pytest.raises(TemplateError) as info:
        value_of({"yaql": {"expression": "1 + 2 + 3 + 4 + 5"}}, limits=limits)
    assert info.value.reason == "the expression has 17 characters; the limit is 10"
    with pytest.raises(TemplateError) as info:
        value_of({"yaql": {"expression": "$.data", "data": {"a": "x" * 30}}}, limits=limits)
    assert info.value.reason == "the data is 39 bytes of JSON; the limit is 20"


# Fn::Select (2013-05-23 to 2015-04-30) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"Fn::Select": [1, ["a", "b"]]}, "b"),
        ({"Fn::Select": ["1", ["a", "b"]]}, "b"),
        ({"Fn::Select": [5, ["a", "b"]]}, ""),
        ({"Fn::Select": ["k", {"k": "v"}]}, "v"),
    ],
)
def test_select(value_of: ValueOf, expr: Any, expected: Any) -> None:
    check(value_of, expr, expected, "2014-10-16")
