"""Formula parsing and evaluation: Amplitude and PostHog syntaxes, precedence, division by zero, bad input."""

from __future__ import annotations

import pytest

from footfall.query.formula import FormulaError, Ref, evaluate, parse, refs

SERIES = {
    Ref("UNIQUES", "A"): [4.0, 0.0],
    Ref("UNIQUES", "B"): [2.0, 0.0],
    Ref("", "A"): [1.0, 2.0],
    Ref("", "B"): [3.0, 5.0],
    Ref("TOTALS", "A"): [10.0, 6.0],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UNIQUES(A)/UNIQUES(B)", [2.0, 0.0]),  # 0/0 is 0
        ("A + 2*B", [7.0, 12.0]),
        ("(A + B) * 2", [8.0, 14.0]),
        ("-A + 10 / 4", [1.5, 0.5]),
        ("totals(a) - uniques(A)", [6.0, 6.0]),
        ("A - B - 1", [-3.0, -4.0]),
    ],
)
def test_evaluates(text: str, expected: list[float]) -> None:
    assert evaluate(parse(text), SERIES.__getitem__, 2) == pytest.approx(expected)


def test_refs_in_order() -> None:
    assert refs(parse("UNIQUES(B) / TOTALS(A) + UNIQUES(B)")) == [Ref("UNIQUES", "B"), Ref("TOTALS", "A")]


@pytest.mark.parametrize("text", ["", "A +", "UNIQUES(1)", "A ** B", "__import__('os')", "A; B", "(A", "A)"])
def test_rejects(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)
