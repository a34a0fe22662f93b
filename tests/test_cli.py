"""Where a CLI command reaches the server that owns the data dir, whatever address serve is bound to."""

from __future__ import annotations

import pytest

from footfall.cli import _local_address


@pytest.mark.parametrize(
    ("bound", "reached"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("::", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("10.1.2.3", "10.1.2.3"),
        ("::1", "[::1]"),
        ("fe80::1", "[fe80::1]"),
    ],
)
def test_admin_address(bound: str, reached: str) -> None:
    assert _local_address(bound) == reached
