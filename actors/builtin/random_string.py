"""`OS::Heat::RandomString`: a random string drawn with `secrets`.

As in Heat, the string is built from `character_classes` (named alphabets) and
`character_sequences` (literal alphabets): first each entry's `min` characters,
then the rest from a uniformly chosen entry, then shuffled. Without either, the
deprecated `sequence` alphabet (default `lettersdigits`) is used. No property
can change in place, so any change (typically of `salt`) makes a new string.

The physical id is the string itself because Heat makes `get_resource` of a
RandomString return the value.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from actors.base import ActorContext, Created, ResourceActor, ResourceFailure
from actors.schema import (
    AllowedValues,
    Length,
    Property,
    PropertyError,
    PropertyType,
    Range,
    Schema,
    validate_properties,
)

ALPHABETS: dict[str, str] = {
    "lettersdigits": string.ascii_letters + string.digits,
    "letters": string.ascii_letters,
    "lowercase": string.ascii_lowercase,
    "uppercase": string.ascii_uppercase,
    "digits": string.digits,
    "hexdigits": string.digits + "ABCDEF",
    "octdigits": string.octdigits,
}

_CLASS_NAME = AllowedValues(tuple(ALPHABETS))
_MIN = Property(
    PropertyType.INTEGER,
    "The minimum number of characters from this entry in the string.",
    default=1,
    constraints=(Range(1, 512),),
)
CLASS_SCHEMA: Schema = {
    "class": Property(PropertyType.STRING, default="lettersdigits", constraints=(_CLASS_NAME,)),
    "min": _MIN,
}
SEQUENCE_SCHEMA: Schema = {
    "sequence": Property(PropertyType.STRING, required=True, constraints=(Length(min=1),)),
    "min": _MIN,
}

#: (alphabet, minimum count) pairs the string is built from
Requirement = tuple[str, int]


def requirements(props: Mapping[str, Any]) -> list[Requirement]:
    """Validate the alphabet properties and return what the string must contain."""
    classes = _entries(props.get("character_classes"), CLASS_SCHEMA, "character_classes")
    sequences = _entries(props.get("character_sequences"), SEQUENCE_SCHEMA, "character_sequences")
    if props.get("sequence") is not None and (classes or sequences):
        raise ResourceFailure(
            "cannot use the deprecated 'sequence' property along with "
            "'character_sequences' or 'character_classes'"
        )
    needed = [(entry["sequence"], entry["min"]) for entry in sequences]
    needed += [(ALPHABETS[entry["class"]], entry["min"]) for entry in classes]
    if not needed:
        needed = [(ALPHABETS[props.get("sequence") or "lettersdigits"], 0)]
    length = props["length"]
    total = sum(minimum for _, minimum in needed)
    if total > length:
        raise ResourceFailure(
            f"length {length} is smaller than the combined character class and "
            f"character sequence minimums ({total})"
        )
    return needed


def _entries(value: Sequence[Any] | None, schema: Schema, name: str) -> list[dict[str, Any]]:
    result = []
    for index, item in enumerate(value or ()):
        try:
            result.append(validate_properties(schema, item))
        except PropertyError as err:
            path = f"{name}[{index}]" + (f".{err.path}" if err.path else "")
            raise ResourceFailure(f"{path}: {err.message}") from None
    return result


def generate(length: int, needed: Sequence[Requirement]) -> str:
    """A random string of `length` with at least `min` characters from each alphabet."""
    chars = [secrets.choice(alphabet) for alphabet, minimum in needed for _ in range(minimum)]
    alphabets = [alphabet for alphabet, _ in needed]
    chars += [secrets.choice(secrets.choice(alphabets)) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


class RandomString(ResourceActor):
    type_name = "OS::Heat::RandomString"
    description = "Generates a random string, e.g. a password."
    outside_effects = False
    properties_schema = {
        "length": Property(
            PropertyType.INTEGER,
            "Length of the string to generate.",
            default=32,
            constraints=(Range(1, 512),),
        ),
        "sequence": Property(
            PropertyType.STRING,
            "Deprecated: the alphabet to draw from; use character_classes.",
            constraints=(_CLASS_NAME,),
        ),
        "character_classes": Property(
            PropertyType.LIST,
            "A list of {class, min}: named alphabets and how many characters of each at least.",
        ),
        "character_sequences": Property(
            PropertyType.LIST,
            "A list of {sequence, min}: literal alphabets and how many characters of each.",
        ),
        "salt": Property(
            PropertyType.STRING,
            "Ignored by the generator; changing it makes a new string.",
        ),
    }
    attributes_schema = {"value": "The random string; get_resource returns it too."}

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        value = generate(props["length"], requirements(props))
        return Created(value, {"value": value})

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        return None
