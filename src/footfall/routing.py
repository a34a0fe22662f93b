"""The `{name:id}` path convertor: a row id is 1 to 18 digits. A longer number can name no row (and would
overflow the database's integer binding), so such a path matches no route and answers 404, as for any
unknown id."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class RowIdConvertor(Convertor[int]):
    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", RowIdConvertor())


def row_id(text: str) -> int | None:
    """A row id written in a URL or a cookie, or None when it cannot name a row."""
    return int(text) if len(text) <= 18 and text.isascii() and text.isdigit() and text != "0" * len(text) else None
