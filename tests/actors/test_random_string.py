"""OS::Heat::RandomString: alphabets, minimums and Heat's validation rules."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import ActorContext, PropertyError, ResourceFailure
from actors.builtin import RandomString
from actors.builtin.random_string import ALPHABETS, generate, requirements

MakeCtx = Callable[..., ActorContext]
Props = Callable[..., dict[str, Any]]


@pytest.mark.anyio
async def test_default_is_32_letters_and_digits(make_ctx: MakeCtx, props: Props) -> None:
    created = await RandomString().create(make_ctx(), props(RandomString))
    value = created.attributes["value"]
    assert len(value) == 32
    assert set(value) <= set(string.ascii_letters + string.digits)
    assert created.physical_id == value  # get_resource gives the string, as in Heat


@pytest.mark.anyio
async def test_two_creates_differ(make_ctx: MakeCtx, props: Props) -> None:
    actor, values = RandomString(), props(RandomString)
    first = await actor.create(make_ctx(), values)
    second = await actor.create(make_ctx(), values)
    assert first.physical_id != second.physical_id


@pytest.mark.parametrize("sequence", sorted(ALPHABETS))
def test_deprecated_sequence_picks_the_alphabet(props: Props, sequence: str) -> None:
    values = props(RandomString, {"sequence": sequence, "length": 200})
    value = generate(values["length"], requirements(values))
    assert len(value) == 200
    assert set(value) <= set(ALPHABETS[sequence])


def test_hexdigits_are_upper_case_as_in_heat() -> None:
    assert ALPHABETS["hexdigits"] == "0123456789ABCDEF"


def test_no_property_is_updatable_so_a_new_salt_replaces() -> None:
    assert not any(p.update_allowed for p in RandomString.properties_schema.values())


@pytest.mark.parametrize("length", [0, 513])
def test_length_is_bounded(props: Props, length: int) -> None:
    with pytest.raises(PropertyError) as caught:
        props(RandomString, {"length": length})
    assert caught.value.path == "length"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {
                "length": 4,
                "character_classes": [{"class": "digits", "min": 3}],
                "character_sequences": [{"sequence": "!?", "min": 2}],
            },
            "length 4 is smaller than the combined character class and character "
            "sequence minimums (5)",
        ),
        (
            {"character_classes": [{"class": "digits", "min": 40}]},
            "length 32 is smaller than the combined character class and character "
            "sequence minimums (40)",
        ),
        (
            {"sequence": "digits", "character_classes": [{"class": "letters"}]},
            "cannot use the deprecated 'sequence' property along with "
            "'character_sequences' or 'character_classes'",
        ),
        (
            {"character_classes": [{"class": "digits"}, {"class": "emoji"}]},
            'character_classes[1].class: "emoji" is not one of the allowed values '
            '["lettersdigits", "letters", "lowercase", "uppercase", "digits", "hexdigits", '
            '"octdigits"]',
        ),
        (
            {"character_classes": [{"class": "digits", "min": 0}]},
            "character_classes[0].min: value 0 is not at least 1 and at most 512",
        ),
        (
            {"character_sequences": [{"min": 1}]},
            "character_sequences[0].sequence: required property is missing",
        ),
        (
            {"character_sequences": [{"sequence": ""}]},
            "character_sequences[0].sequence: length 0 must be at least 1",
        ),
        (
            {"character_sequences": ["abc"]},
            'character_sequences[0]: expected a map of properties, got the string "abc"',
        ),
    ],
)
def test_impossible_combinations_fail_clearly(
    props: Props, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ResourceFailure) as caught:
        requirements(props(RandomString, values))
    assert str(caught.value) == message


@pytest.mark.anyio
async def test_create_reports_an_impossible_combination(make_ctx: MakeCtx, props: Props) -> None:
    values = props(RandomString, {"length": 1, "character_classes": [{"min": 2}]})
    with pytest.raises(ResourceFailure, match="smaller than the combined"):
        await RandomString().create(make_ctx(), values)


_classes = st.lists(
    st.fixed_dictionaries({"class": st.sampled_from(sorted(ALPHABETS)), "min": st.integers(1, 6)}),
    max_size=4,
)
_sequences = st.lists(
    st.fixed_dictionaries({"sequence": st.text(min_size=1, max_size=8), "min": st.integers(1, 6)}),
    max_size=4,
)


@given(classes=_classes, sequences=_sequences, slack=st.integers(0, 30))
def test_every_minimum_is_honoured(
    classes: list[dict[str, Any]], sequences: list[dict[str, Any]], slack: int
) -> None:
    needed = [(ALPHABETS[c["class"]], c["min"]) for c in classes]
    needed += [(s["sequence"], s["min"]) for s in sequences]
    length = max(1, sum(minimum for _, minimum in needed) + slack)
    values: dict[str, Any] = {
        "length": length,
        "sequence": None,
        "character_classes": classes,
        "character_sequences": sequences,
    }
    value = generate(length, requirements(values))
    assert len(value) == length
    allowed = set("".join(a for a, _ in needed)) or set(ALPHABETS["lettersdigits"])
    assert set(value) <= allowed
    for alphabet, _ in needed:
        # every entry whose alphabet lies inside this one contributed its minimum here
        floor = sum(m for a, m in needed if set(a) <= set(alphabet))
        assert sum(ch in alphabet for ch in value) >= floor
