"""Building SQL text with every value bound as a parameter."""

from __future__ import annotations

from typing import Any


class Params:
    """Allocates `{pN:Type}` placeholders; `values` goes to the engine alongside the SQL."""

    def __init__(self, **fixed: Any) -> None:
        self.values: dict[str, Any] = dict(fixed)
        self._n = 0

    def __call__(self, value: Any, ch_type: str = "String") -> str:
        name = f"p{self._n}"
        self._n += 1
        self.values[name] = value
        return f"{{{name}:{ch_type}}}"


def and_all(conditions: list[str]) -> str:
    return " AND ".join(f"({c})" for c in conditions) if conditions else "1"
