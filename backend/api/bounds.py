"""Bounds on the values a request carries to the database, declared once.

An integer past 64 bits made the driver raise ("Python int too large to convert to SQLite
INTEGER"; PostgreSQL: "bigint out of range"), and the request ended in a 500. PostgreSQL's
text types cannot store the NUL character at all. Every path, query and body value that
reaches a query is therefore typed with one of these, so a value out of range is a 422
that says why, on every engine, and the bounds appear in the OpenAPI document for clients
and the fuzzer to see.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# Our id columns are SQL INTEGER, 32-bit on PostgreSQL: no id can be larger, and no offset
# past two billion rows selects anything. One bound that fits a 32-bit column fits every
# column and engine (binding such a value never overflows, whatever the column's type).
SQL_INTEGER_MAX = 2**31 - 1

DbInt = Annotated[int, Ge(0), Le(SQL_INTEGER_MAX)]
"""A count or offset a query may use: 0 to 2**31 - 1."""
DbId = Annotated[int, Ge(1), Le(SQL_INTEGER_MAX)]
"""A row id: 1 to 2**31 - 1."""

NUL_FREE_PATTERN = r"^[^\x00]*$"


class NulFree:
    """Refuses text holding the NUL character, and says so in the JSON schema.

    The check is a validator (its message is in words, unlike a failed ``pattern``);
    the pattern is declared only in the schema, for clients and generators.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_refuse_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NUL_FREE_PATTERN
        return json_schema


def _refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character")
    return value


NUL_FREE = NulFree()

# Lengths sit inside the type, before the NUL check: as a Field/Query constraint on an
# optional value pydantic would check them after it, with a message about "items".
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=200), NUL_FREE]
"""A person's name as typed: 1 to 200 characters (the column is 200 wide)."""
SearchText = Annotated[str, StringConstraints(max_length=200), NUL_FREE]
"""Free text matched against stored text."""
KeyText = Annotated[str, StringConstraints(max_length=256), NUL_FREE]
"""A key matched against stored ones (an audit kind, a session id); an unknown one is
the route's to refuse, in its own words."""
