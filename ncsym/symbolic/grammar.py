"""The second stage of the activation-string parser: a precedence-climbing (Pratt) reader that
builds sympy objects token by token, checking sizes and time after every construction step.

The functions it knows are in :mod:`ncsym.symbolic.functions`; the tokens come from
:mod:`ncsym.symbolic.tokenizer`; the entry point is :func:`ncsym.symbolic.parse.parse_expression`.

>>> _Parser("1 + x^2", allow_variable=True).parse().obj
x**2 + 1
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import sympy

from ncsym.core.errors import ActivationParseError
from ncsym.symbolic.activations import x
from ncsym.symbolic.functions import FUNCTIONS, _Function, _arity, _unknown
from ncsym.symbolic.tokenizer import (
    MAX_ARGUMENT, MAX_CONDITIONS, MAX_DIGITS, MAX_EXPONENT, MAX_LOG10, MAX_NESTING, MAX_RADICAND_DIGITS,
    MAX_SECONDS, VARIABLE_NAMES, _BOOLEANS, _CONSTANTS, Token, _digits, _error, _exact_number, _log10_parts,
    _rational_digits, tokenize,
)

# -- values flowing through the parser -------------------------------------------------------

@dataclass
class _Value:
    kind: str  # "expr", "cond" or "pair"
    obj: Any
    position: int
    chain: sympy.Expr | None = None  # right operand of the last comparison, for 0 < x < 1


_INFIX_POWER = {
    "or": 1, "|": 1,
    "and": 2, "&": 2,
    "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 10, "-": 10,
    "*": 20, "/": 20,
    "^": 40, "**": 40,
}
_NOT_POWER = 3
_UNARY_POWER = 30
_COMPARISONS = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge}
_HINTS = {
    "lambda": "lambda expressions are not allowed",
    "if": "conditional expressions are written where(condition, a, b)",
    "else": "conditional expressions are written where(condition, a, b)",
    "import": "imports are not allowed",
}


class _Parser:
    def __init__(self, text: str, allow_variable: bool):
        self.text = text
        self.allow_variable = allow_variable
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.variable: tuple[str, int] | None = None
        self.conditions = 0
        self.radicand_digits = 0.0
        self.deadline = time.monotonic() + MAX_SECONDS

    # -- plumbing ---------------------------------------------------------------------------
    def error(self, message: str, position: int) -> ActivationParseError:
        return _error(message, self.text, position)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, kind: str, what: str) -> Token:
        token = self.advance()
        if token.kind != kind:
            raise self.error(f"expected {what}, found {_describe(token)}", token.position)
        return token

    def check_time(self, position: int) -> None:
        if time.monotonic() > self.deadline:
            raise self.error(f"the expression takes more than {MAX_SECONDS:g} s to build", position)

    def build(self, position: int, what: str, function: Callable, *args: Any) -> Any:
        """Call sympy, turning any failure into an ActivationParseError, and bound the result."""
        self.check_time(position)
        try:
            result = function(*args)
        except ActivationParseError:
            raise
        except RecursionError:
            raise self.error(f"{what} is nested too deeply to build", position) from None
        except Exception as exc:  # sympy raises many types; the caller must see only ours
            detail = f"{type(exc).__name__}: {exc}"[:200]
            raise self.error(f"cannot build {what} ({detail})", position) from None
        if isinstance(result, sympy.Expr):
            self.check_size(result, position)
        return result

    def check_size(self, expr: sympy.Expr, position: int) -> None:
        """Refuse oversized or undefined numbers created by the last step (a shallow look)."""
        for node in _shallow(expr):
            if node in (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                raise self.error("the expression is undefined or infinite here (a division by "
                                 "zero, log(0), ...)", position)
            if node.is_Rational and _digits(node) > MAX_DIGITS:
                raise self.error(f"number too large: exact numbers are limited to about "
                                 f"{MAX_DIGITS} digits", position)
        if not expr.free_symbols and not expr.is_Rational:
            size = self.log10_abs(expr, position, "the value")
            if size > MAX_LOG10:
                raise self.error(f"constant too large (about 10^{size:.0f}; the limit is "
                                 f"10^{MAX_LOG10})", position)

    def log10_abs(self, expr: sympy.Expr, position: int, what: str) -> float:
        """log10 |expr| of a numeric expression, refusing complex values.

        A complex constant is refused at once: later comparisons would make sympy expand
        powers of it multinomially (is_comparable calls as_real_imag), without a time bound.
        """
        try:
            parts = _log10_parts(expr)
        except Exception as exc:  # evaluation failures are the input's problem
            raise self.error(f"cannot evaluate {what} ({type(exc).__name__})", position) from None
        if parts is None:
            raise self.error(f"cannot bound the size of {what}", position)
        real, imaginary = parts
        if imaginary > -math.inf and imaginary > real - 10:
            raise self.error(f"{what} is not real (roots and logarithms of negative numbers are "
                             "complex)", position)
        return max(real, imaginary)

    # -- grammar ----------------------------------------------------------------------------
    def parse(self, power: int = 0) -> _Value:
        token = self.peek()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested deeper than {MAX_NESTING} levels", token.position)
        self.check_time(token.position)
        left = self.prefix(self.advance())
        while _binding_power(self.peek()) > power:
            left = self.infix(self.advance(), left)
        self.depth -= 1
        return left

    def prefix(self, token: Token) -> _Value:
        if token.kind == "number":
            return _Value("expr", _exact_number(token, self.text), token.position)
        if token.kind == "name":
            return self.name(token)
        if token.kind == "(":
            first = self.parse()
            if self.peek().kind == ",":
                self.advance()
                second = self.parse()
                closing = self.advance()
                if closing.kind == ",":
                    raise self.error("a (value, condition) pair has exactly two entries", closing.position)
                if closing.kind != ")":
                    raise self.error(f"expected ')', found {_describe(closing)}", closing.position)
                return _Value("pair", (first, second), token.position)
            self.expect(")", "')'")
            first.position, first.chain = token.position, None
            return first
        if token.kind == "op" and token.text in ("-", "+"):
            operand = self.expr(self.parse(_UNARY_POWER), f"operand of unary {token.text}")
            if token.text == "+":
                return _Value("expr", operand, token.position)
            return _Value("expr", self.build(token.position, "the negation", lambda: -operand), token.position)
        if token.kind == "end":
            if token.position == 0 or not self.text.strip():
                raise self.error("empty expression", token.position)
            raise self.error("unexpected end of input", token.position)
        raise self.error(f"unexpected {_describe(token)}", token.position)

    def name(self, token: Token) -> _Value:
        name, position = token.text, token.position
        called = self.peek().kind == "("
        if name in FUNCTIONS:
            if not called:
                raise self.error(f"{name} is a function: write {FUNCTIONS[name].signature}", position)
            return self.call(FUNCTIONS[name], position)
        if called:
            raise self.error(_unknown(name, "function"), position)
        if name in _CONSTANTS:
            return _Value("expr", _CONSTANTS[name], position)
        if name in VARIABLE_NAMES:
            return _Value("expr", self.use_variable(name, position), position)
        if name in _BOOLEANS:
            return _Value("cond", _BOOLEANS[name], position)
        if name == "not":
            operand = self.cond(self.parse(_NOT_POWER), "operand of not")
            self.count_condition(position)
            return _Value("cond", self.build(position, "not", sympy.Not, operand), position)
        if name in ("and", "or"):
            raise self.error(f"unexpected '{name}'", position)
        raise self.error(_HINTS.get(name) or _unknown(name, "name"), position)

    def use_variable(self, name: str, position: int) -> sympy.Symbol:
        if not self.allow_variable:
            raise self.error(f"a constant is required here, but {name!r} is a variable", position)
        if self.variable is not None and self.variable[0] != name:
            raise self.error(f"more than one free variable ({self.variable[0]!r} and {name!r}); an "
                             "activation is a function of one variable", position)
        self.variable = (name, position)
        return x

    def infix(self, token: Token, left: _Value) -> _Value:
        op, position = token.text, token.position
        if op in _COMPARISONS:
            if left.kind == "cond" and left.chain is not None:
                lhs = left.chain
            else:
                lhs = self.expr(left, f"left side of {op}")
            rhs = self.expr(self.parse(_INFIX_POWER[op]), f"right side of {op}")
            if lhs.has(sympy.Piecewise) or rhs.has(sympy.Piecewise):
                # sympy solves such conditions into sets while building, which can take forever
                raise self.error("a comparison cannot involve a piecewise-defined expression (where, "
                                 "piecewise, elu, selu); compare simpler expressions", position)
            self.count_condition(position)
            relation = self.build(position, f"the comparison {op}", _COMPARISONS[op], lhs, rhs)
            if not relation.free_symbols and not isinstance(relation, sympy.logic.boolalg.BooleanAtom):
                # sympy keeps an undecided constant comparison (erf(39054) >= 1) and can then
                # loop without end while building the Piecewise around it
                raise self.error(f"cannot decide the constant comparison {op}: the two sides are too "
                                 "close to compare numerically", position)
            if left.kind == "cond" and left.chain is not None:
                relation = self.build(position, "the chained comparison", sympy.And, left.obj, relation)
            return _Value("cond", relation, left.position, chain=rhs)
        if op in ("and", "&", "or", "|"):
            a = self.cond(left, f"left side of {op}")
            b = self.cond(self.parse(_INFIX_POWER[op]), f"right side of {op}")
            self.count_condition(position)
            combine = sympy.And if op in ("and", "&") else sympy.Or
            return _Value("cond", self.build(position, f"'{op}'", combine, a, b), left.position)
        a = self.expr(left, f"left operand of {op}")
        # powers are right-associative: parse the exponent one notch looser
        right_power = _INFIX_POWER[op] - 1 if op in ("^", "**") else _INFIX_POWER[op]
        b = self.expr(self.parse(right_power), f"right operand of {op}")
        if op in ("^", "**"):
            result = self.power(a, b, position)
        elif op == "/":
            if b == 0:
                raise self.error("division by zero", position)
            result = self.build(position, "the quotient", lambda: a / b)
        else:
            operation = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b}[op]
            result = self.build(position, f"'{op}'", operation)
        return _Value("expr", result, left.position)

    def call(self, function: _Function, position: int) -> _Value:
        self.expect("(", "'('")
        args: list[_Value] = []
        if self.peek().kind != ")":
            while True:
                args.append(self.parse())
                if self.peek().kind != ",":
                    break
                self.advance()
        self.expect(")", f"',' or ')' in the call of {function.name}")
        count = len(args)
        if count < function.min_args or (function.max_args is not None and count > function.max_args):
            raise self.error(f"{function.name} takes {_arity(function)}, got {count}: "
                             f"{function.signature}", position)
        if function.raw:
            result = function.build(self, args, position)
        else:
            values = [self.expr(a, f"argument {k + 1} of {function.name}") for k, a in enumerate(args)]
            if function.grows:
                self.check_argument(function.name, values[0], args[0].position)
            result = function.build(self, values, position)
        return _Value("expr", result, position)

    # -- typing -----------------------------------------------------------------------------
    def expr(self, value: _Value, what: str) -> sympy.Expr:
        if value.kind == "expr":
            return value.obj
        if value.kind == "cond":
            raise self.error(f"a condition cannot be the {what}: comparisons belong inside "
                             "where(...) or piecewise(...)", value.position)
        raise self.error("a comma outside a function call: (value, condition) pairs belong inside "
                         "piecewise(...)", value.position)

    def cond(self, value: _Value, what: str) -> sympy.Basic:
        if value.kind == "cond":
            return value.obj
        if value.kind == "pair":
            raise self.error("a comma outside a function call", value.position)
        raise self.error(f"the {what} must be a condition such as x > 0", value.position)

    def constant(self, value: sympy.Expr, what: str, position: int) -> sympy.Expr:
        if value.free_symbols:
            raise self.error(f"the {what} must be a constant, not a function of x", position)
        return value

    def count_condition(self, position: int) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(f"more than {MAX_CONDITIONS} comparisons and boolean operators", position)

    # -- guarded constructions ------------------------------------------------------------
    def check_argument(self, name: str, argument: sympy.Expr, position: int) -> None:
        """exp-like functions of a large number would create numbers too large to evaluate."""
        if argument.free_symbols:
            return
        if self.log10_abs(argument, position, f"the argument of {name}") > math.log10(MAX_ARGUMENT):
            raise self.error(f"the argument of {name} is too large (the limit is |u| <= "
                             f"{MAX_ARGUMENT} for a constant argument)", position)

    def power(self, base: sympy.Expr, exponent: sympy.Expr, position: int) -> sympy.Expr:
        """base**exponent, refusing powers sympy would expand into absurd exact numbers."""
        if not exponent.free_symbols:
            exponent_size = self.log10_abs(exponent, position, "the exponent")
            if base.free_symbols:
                if exponent_size > math.log10(MAX_EXPONENT):
                    raise self.error(f"exponent too large: powers of expressions in x are limited "
                                     f"to |n| <= {MAX_EXPONENT}", position)
            elif not (base.is_Rational and abs(base) <= 1 and base.q == 1):
                base_size = abs(self.log10_abs(base, position, "the base"))
                if base_size > 0 and exponent_size + math.log10(base_size) > math.log10(MAX_LOG10):
                    raise self.error(f"power too large: |base^exponent| would exceed "
                                     f"10^{MAX_LOG10}", position)
                if exponent.is_Rational:
                    self.check_exact_power(base, exponent, position)
        return self.build(position, "the power", sympy.Pow, base, exponent)

    def check_exact_power(self, base: sympy.Expr, exponent: sympy.Rational, position: int) -> None:
        digits = _rational_digits(base)
        if abs(exponent) * digits > MAX_DIGITS:
            raise self.error(f"power too large: its exact value would need more than {MAX_DIGITS} "
                             "digits", position)
        if exponent.q != 1:
            # sympy factors the radicand, and for p/q powers also works with base**p and
            # base**(q - p) exactly; keep both cheap
            if digits * (abs(exponent.p) + exponent.q) > MAX_DIGITS:
                raise self.error(f"fractional power of an exact number too costly to evaluate "
                                 f"(digits x (|p| + q) above {MAX_DIGITS})", position)
            self.radicand_digits += digits
            if self.radicand_digits > MAX_RADICAND_DIGITS:
                raise self.error(f"roots of exact numbers are limited to {MAX_RADICAND_DIGITS} "
                                 "digits in total", position)


def _binding_power(token: Token) -> int:
    if token.kind == "op" or (token.kind == "name" and token.text in ("and", "or")):
        return _INFIX_POWER.get(token.text, 0)
    return 0


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the input"
    if token.kind == "name":
        return f"name {token.text!r}"
    if token.kind == "number":
        return f"number {token.text}"
    return f"{token.text!r}"


def _shallow(expr: sympy.Basic) -> list[sympy.Basic]:
    """The node, its arguments and theirs: where a single construction step puts new numbers."""
    nodes = [expr]
    for arg in expr.args:
        nodes.append(arg)
        nodes.extend(arg.args)
    return nodes
