"""Formulas over series: Amplitude's `UNIQUES(A)/UNIQUES(B)` and PostHog's `A + 2*B`, parsed, never eval'd.

Grammar: expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
unary := '-' unary | NUMBER | '(' expr ')' | NAME '(' NAME ')' | NAME.
A division by zero gives 0, as both products show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from footfall.query.spec import QueryError

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(.))")
MAX_LENGTH = 1000


class FormulaError(QueryError):
    pass


@dataclass(frozen=True)
class Ref:
    """A series operand: `name` (A, B, …) under `function` (UNIQUES, TOTALS, …; "" for a bare letter)."""

    function: str
    name: str


Node = tuple  # ("num", float) | ("ref", Ref) | ("neg", Node) | (op, Node, Node)


def _tokens(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_LENGTH:
        raise FormulaError("formula is too long")
    out = []
    for number, name, other in _TOKEN.findall(text):
        if number:
            out.append(("num", number))
        elif name:
            out.append(("name", name))
        elif other.strip():
            if other not in "+-*/(),":
                raise FormulaError(f"unexpected character {other!r} in formula")
            out.append(("op", other))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise FormulaError(f"expected {value or 'more'} in formula")
        self.i += 1
        return token

    def expr(self) -> Node:
        node = self.term()
        while (t := self.peek()) and t[1] in "+-" and t[0] == "op":
            self.take()
            node = (t[1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (t := self.peek()) and t[1] in "*/" and t[0] == "op":
            self.take()
            node = (t[1], node, self.unary())
        return node

    def unary(self) -> Node:
        kind, value = self.take()
        if kind == "op" and value == "-":
            return ("neg", self.unary())
        if kind == "num":
            return ("num", float(value))
        if kind == "op" and value == "(":
            node = self.expr()
            self.take(")")
            return node
        if kind == "name":
            if (t := self.peek()) and t[1] == "(":
                self.take("(")
                kind2, arg = self.take()
                if kind2 != "name":
                    raise FormulaError(f"{value}() takes a series letter")
                self.take(")")
                return ("ref", Ref(value.upper(), arg.upper()))
            return ("ref", Ref("", value.upper()))
        raise FormulaError(f"unexpected {value!r} in formula")


def parse(text: str) -> Node:
    parser = _Parser(text)
    node = parser.expr()
    if parser.peek() is not None:
        raise FormulaError(f"unexpected {parser.peek()[1]!r} in formula")  # type: ignore[index]
    return node


def refs(node: Node) -> list[Ref]:
    """Operands in order of first appearance."""
    found: list[Ref] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if item[0] == "ref":
            if item[1] not in found:
                found.append(item[1])
        elif item[0] == "neg":
            stack.append(item[1])
        elif item[0] != "num":
            stack.extend([item[2], item[1]])
    return found


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
}


def evaluate(node: Node, values: Callable[[Ref], list[float]], length: int) -> list[float]:
    """The formula applied point by point to series of `length` values."""
    kind = node[0]
    if kind == "num":
        return [node[1]] * length
    if kind == "ref":
        return values(node[1])
    if kind == "neg":
        return [-v for v in evaluate(node[1], values, length)]
    left, right = evaluate(node[1], values, length), evaluate(node[2], values, length)
    return [_OPS[kind](a, b) for a, b in zip(left, right, strict=True)]
