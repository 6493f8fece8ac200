"""Safe parsing of activation strings through a whitelisted grammar.

Python is never evaluated: the text is split by a small tokenizer and read by a
precedence-climbing (Pratt) parser that builds sympy objects directly. Neither ``eval``,
``exec``, ``sympify`` nor ``parse_expr`` ever sees user text.

Grammar
-------
* Numbers: integers, decimals and scientific notation, all read exactly
  (``0.1`` is 1/10, ``1e-3`` is 1/1000).
* Arithmetic: ``+ - * /``, powers ``^`` or ``**`` (right-associative, binding tighter than
  unary minus, so ``-x^2`` is ``-(x^2)``), parentheses. There is no implicit
  multiplication: write ``2*x``, not ``2x``.
* Constants: ``pi``, ``e`` and ``E`` (Euler's number).
* The variable: ``x``. One of ``t, u, v, w, y, z, s`` may stand in for it (it is renamed
  to x); two different variable names in one string are an error.
* Functions: see :data:`FUNCTION_NAMES`; ``Phi`` is the standard normal CDF and ``phi``
  its density; ``max``/``min`` take two or more arguments; the zoo activations
  (``relu(u)``, ``gelu(u)``, ``leaky_relu(u, alpha)``, ``elu(u, alpha)``, ...) are
  functions of an argument, with their parameters as further (constant) arguments.
* Conditions, allowed only inside ``where(condition, a, b)`` and
  ``piecewise((value, condition), ..., (value, True))``: comparisons ``< <= > >=``
  (chains such as ``0 < x <= 1`` allowed), ``and``/``&``, ``or``/``|``, ``not``, and the
  constants ``True``/``otherwise``. ``&`` and ``|`` bind more loosely than comparisons, so
  ``x > 0 & x < 1`` means what it says. The final branch of ``piecewise`` is either a
  ``(value, True)`` pair or a bare default value.

Anything else (unknown names, attribute access, dunder names, lambdas, strings, brackets,
keyword arguments, non-ASCII characters, oversized input or numbers) raises
:class:`~ncsym.core.errors.ActivationParseError` with a message that names the problem and
its position (also kept as the error's ``position`` attribute); no other exception escapes.

Limits
------
sympy evaluates numbers eagerly (``9**9**9`` would be computed digit by digit), so sizes are
bounded *before* sympy sees them: at most :data:`MAX_LENGTH` characters, :data:`MAX_TOKENS`
tokens and :data:`MAX_NESTING` levels; exact numbers of about :data:`MAX_DIGITS` digits;
numeric constants up to ``10**MAX_LOG10`` in size; constant arguments of exp-like functions up
to :data:`MAX_ARGUMENT` (zoo activations take no constant argument at all); exponents on
expressions in x up to :data:`MAX_EXPONENT`;
:data:`MAX_RADICAND_DIGITS` digits under roots in all (sympy factors radicands);
:data:`MAX_CONDITIONS` comparisons and boolean operators; and :data:`MAX_SECONDS` of
construction time. Comparisons may not involve piecewise-defined expressions, and the
piecewise zoo members (elu, selu) may not take a piecewise argument: sympy would solve such
conditions into sets while building them, which has no time bound.

>>> parse_expression("max(x, 0) - 1/sqrt(2*pi)")
Max(0, x) - sqrt(2)/(2*sqrt(pi))
>>> parse_expression("where(x > 0, x, exp(x) - 1)")
Piecewise((x, x > 0), (exp(x) - 1, True))
>>> parse_expression("0.1")
1/10
"""

from __future__ import annotations

import difflib
import math
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import mpmath
import sympy

from ncsym.symbolic import zoo
from ncsym.symbolic.activations import x
from ncsym.core.errors import ActivationParseError

__all__ = ["parse_expression", "FUNCTION_NAMES", "CONSTANT_NAMES", "VARIABLE_NAMES"]

# -- limits: every one bounds work sympy might otherwise do on hostile input ------------------
#: Longest accepted input, in characters.
MAX_LENGTH = 2000
#: Most tokens in one input.
MAX_TOKENS = 1000
#: Deepest nesting of parentheses, calls, unary operators and powers.
MAX_NESTING = 100
#: Longest name.
MAX_NAME_LENGTH = 64
#: Largest exact number: numerator and denominator have at most this many decimal digits.
MAX_DIGITS = 300
#: Largest magnitude of a numeric constant, as a power of ten (|c| <= 10**MAX_LOG10).
MAX_LOG10 = 1000
#: Largest |argument| of exp, sinh, cosh and phi when the argument is a number.
MAX_ARGUMENT = 1000
#: Largest |exponent| on an expression in x, and largest monomial degree.
MAX_EXPONENT = 1000
#: Largest Hermite order.
MAX_HERMITE_ORDER = 100
#: Total decimal digits of the exact numbers under roots: sympy factors radicands.
MAX_RADICAND_DIGITS = 60
#: Most comparisons and boolean operators: sympy's And/Or simplification is quadratic.
MAX_CONDITIONS = 64
#: Wall-clock bound on one parse, checked between construction steps.
MAX_SECONDS = 5.0

#: Names that mean the variable x (at most one of them per string).
VARIABLE_NAMES = frozenset({"x", "t", "u", "v", "w", "y", "z", "s"})
_CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E}
#: Names of the constants.
CONSTANT_NAMES = frozenset(_CONSTANTS)
_BOOLEANS = {"True": sympy.true, "true": sympy.true, "otherwise": sympy.true,
             "False": sympy.false, "false": sympy.false}

# -- errors ---------------------------------------------------------------------------------

def _error(message: str, text: str | None = None, position: int | None = None) -> ActivationParseError:
    """An ActivationParseError whose message shows the position with a caret."""
    if text is None or position is None:
        return ActivationParseError(message)
    start, end = max(0, position - 30), min(len(text), position + 30)
    # Keep the excerpt printable and the caret aligned: one output character per input one.
    excerpt = "".join(c if " " <= c <= "~" else "?" for c in text[start:end])
    prefix = "..." if start else ""
    suffix = "..." if end < len(text) else ""
    error = ActivationParseError(
        f"{message} at position {position}\n  {prefix}{excerpt}{suffix}\n  {' ' * (len(prefix) + position - start)}^"
    )
    error.position = position
    return error


# -- tokenizer ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "op", "(", ")", ",", "end"
    text: str
    position: int


_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATORS_2 = ("**", "<=", ">=")
_OPERATORS_1 = frozenset("+-*/^<>&|")
_REJECTED_2 = {
    "==": "equality conditions are not supported; use <, <=, > or >=",
    "!=": "'!=' is not supported; use <, <=, > or >=",
    "//": "floor division '//' is not supported",
    "<<": "bit shifts are not supported",
    ">>": "bit shifts are not supported",
    ":=": "assignments are not allowed",
}
_REJECTED_1 = {
    "'": "string literals are not allowed",
    '"': "string literals are not allowed",
    "`": "backquotes are not allowed",
    "[": "brackets are not allowed (no indexing or lists); use parentheses",
    "]": "brackets are not allowed (no indexing or lists); use parentheses",
    "{": "braces are not allowed (no sets or dicts); use parentheses",
    "}": "braces are not allowed (no sets or dicts); use parentheses",
    ":": "':' is not allowed (no lambdas, slices or dicts)",
    ";": "';' is not allowed: the input must be a single expression",
    "#": "comments are not allowed",
    "\\": "backslashes are not allowed",
    "%": "'%' is not supported",
    "@": "'@' is not allowed",
    "~": "'~' is not supported; use not",
    "!": "'!' is not supported; use not",
    "$": "'$' is not allowed",
    "?": "'?' is not allowed",
}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    open_parens: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WHITESPACE:
            i += 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise _error(f"too many tokens (the limit is {MAX_TOKENS})", text, i)
        previous = tokens[-1].kind if tokens else None
        if c in _DIGITS or (c == "." and text[i + 1:i + 2] in _DIGITS
                            and previous not in ("name", ")", "number")):
            match = _NUMBER.match(text, i)
            end = match.end()
            if end < n and (text[end] in _NAME_START or text[end] in _DIGITS):
                raise _error("a number cannot run straight into a name (no implicit products or "
                             "prefixed literals); write the product with '*', as in 2*x", text, end)
            tokens.append(_Token("number", match.group(), i))
            i = end
            continue
        if c in _NAME_START:
            match = _NAME.match(text, i)
            name = match.group()
            if len(name) > MAX_NAME_LENGTH:
                raise _error(f"name longer than {MAX_NAME_LENGTH} characters", text, i)
            if name.startswith("_") or "__" in name:
                raise _error(f"names starting with '_' or containing '__' (dunder names) are not "
                             f"allowed: {name!r}", text, i)
            tokens.append(_Token("name", name, i))
            i = match.end()
            continue
        if c == ".":
            raise _error("'.' is not allowed here (no attribute access)", text, i)
        if c == "(":
            open_parens.append(i)
            if len(open_parens) > MAX_NESTING:
                raise _error(f"parentheses nested deeper than {MAX_NESTING} levels", text, i)
            tokens.append(_Token("(", c, i))
            i += 1
            continue
        if c == ")":
            if not open_parens:
                raise _error("unbalanced ')': there is no matching '('", text, i)
            open_parens.pop()
            tokens.append(_Token(")", c, i))
            i += 1
            continue
        if c == ",":
            tokens.append(_Token(",", c, i))
            i += 1
            continue
        pair = text[i:i + 2]
        if pair in _OPERATORS_2:
            tokens.append(_Token("op", pair, i))
            i += 2
            continue
        if pair in _REJECTED_2:
            raise _error(_REJECTED_2[pair], text, i)
        if c in _OPERATORS_1:
            tokens.append(_Token("op", c, i))
            i += 1
            continue
        if c == "=":
            if previous == "name" and open_parens:
                raise _error("keyword arguments are not allowed; pass parameters by position", text, i)
            raise _error("'=' is not allowed (no assignments)", text, i)
        if c in _REJECTED_1:
            raise _error(_REJECTED_1[c], text, i)
        code = ord(c)
        if code > 127:
            name = unicodedata.name(c, "unnamed")
            raise _error(f"non-ASCII character U+{code:04X} ({name}) is not allowed; write the "
                         "expression in plain ASCII", text, i)
        raise _error(f"control character U+{code:04X} is not allowed", text, i)
    if open_parens:
        raise _error("unbalanced '(': it is never closed", text, open_parens[-1])
    tokens.append(_Token("end", "", n))
    return tokens


def _exact_number(token: _Token, text: str) -> sympy.Rational:
    """The decimal literal as an exact rational, refusing absurd sizes before building it."""
    mantissa, _, exponent_text = token.text.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0") or "0"
    exponent = int(exponent_text) if exponent_text else 0
    if digits != "0":
        scale = exponent - len(fraction)
        # floor(log10) of the numerator (scale >= 0) or of the larger of numerator and
        # denominator (scale < 0), as _digits measures built numbers
        size = len(digits) - 1 + scale if scale >= 0 else max(len(digits) - 1, -scale)
        if size > MAX_DIGITS:
            raise _error(f"number too large or too finely resolved: exact numbers are limited "
                         f"to about {MAX_DIGITS} digits", text, token.position)
    else:
        scale = 0
    value = int(digits)
    return sympy.Integer(value * 10**scale) if scale >= 0 else sympy.Rational(value, 10**-scale)


# -- sizes of numbers -------------------------------------------------------------------------

def _digits(number: sympy.Rational) -> float:
    """log10 of the larger of numerator and denominator: about their number of digits."""
    return math.log10(max(abs(int(number.p)), int(number.q)))


def _rational_digits(expr: sympy.Expr) -> float:
    """Total digits of the exact numbers in a numeric expression (a bound on exact growth)."""
    return sum(_digits(r) for r in expr.atoms(sympy.Rational))


def _log10_parts(value: sympy.Expr) -> tuple[float, float] | None:
    """log10 of |real part| and |imaginary part| to a few digits (-inf for a zero part);
    None when sympy cannot evaluate the value to numbers."""
    approx = value.evalf(8)
    sizes = []
    for part in approx.as_real_imag():
        if part.is_zero:
            sizes.append(-math.inf)
        elif isinstance(part, sympy.Float):
            sizes.append(float(mpmath.log10(abs(mpmath.mpf(part._mpf_)))))
        else:
            return None
    return sizes[0], sizes[1]


# -- values flowing through the parser -------------------------------------------------------

@dataclass
class _Value:
    kind: str  # "expr", "cond" or "pair"
    obj: Any
    position: int
    chain: sympy.Expr | None = None  # right operand of the last comparison, for 0 < x < 1


@dataclass(frozen=True)
class _Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    signature: str
    build: Callable[..., Any]  # (parser, args, position) -> sympy expression
    grows: bool = False  # exponential growth: a numeric argument must be small
    raw: bool = False  # build receives _Value objects (conditions, pairs)


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
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.variable: tuple[str, int] | None = None
        self.conditions = 0
        self.radicand_digits = 0.0
        self.deadline = time.monotonic() + MAX_SECONDS

    # -- plumbing ---------------------------------------------------------------------------
    def error(self, message: str, position: int) -> ActivationParseError:
        return _error(message, self.text, position)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, kind: str, what: str) -> _Token:
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

    def prefix(self, token: _Token) -> _Value:
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

    def name(self, token: _Token) -> _Value:
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

    def infix(self, token: _Token, left: _Value) -> _Value:
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


# -- the function table -----------------------------------------------------------------------

def _binding_power(token: _Token) -> int:
    if token.kind == "op" or (token.kind == "name" and token.text in ("and", "or")):
        return _INFIX_POWER.get(token.text, 0)
    return 0


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the input"
    if token.kind == "name":
        return f"name {token.text!r}"
    if token.kind == "number":
        return f"number {token.text}"
    return f"{token.text!r}"


def _arity(function: _Function) -> str:
    low, high = function.min_args, function.max_args
    plural = lambda k: f"{k} argument" + ("" if k == 1 else "s")  # noqa: E731
    if high is None:
        return f"at least {plural(low)}"
    if low == high:
        return plural(low)
    return f"{low} to {high} arguments"


def _unknown(name: str, kind: str) -> str:
    known = sorted(FUNCTIONS) if kind == "function" else sorted(set(FUNCTIONS) | CONSTANT_NAMES | VARIABLE_NAMES)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known {kind}s: {', '.join(known)}"
    return f"unknown {kind} {name!r}{hint}"


def _shallow(expr: sympy.Basic) -> list[sympy.Basic]:
    """The node, its arguments and theirs: where a single construction step puts new numbers."""
    nodes = [expr]
    for arg in expr.args:
        nodes.append(arg)
        nodes.extend(arg.args)
    return nodes


def _elementary(function: Callable[..., sympy.Expr]) -> Callable:
    def build(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
        return parser.build(position, "the function call", function, *args)

    return build


def _sqrt(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
    return parser.power(args[0], sympy.Rational(1, 2), position)


def _Phi(u: sympy.Expr) -> sympy.Expr:
    return (1 + sympy.erf(u / sympy.sqrt(2))) / 2


def _phi(u: sympy.Expr) -> sympy.Expr:
    return sympy.exp(-u**2 / 2) / sympy.sqrt(2 * sympy.pi)


def _heaviside(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
    if len(args) == 2:
        parser.constant(args[1], "value at 0 of heaviside", position)
    return parser.build(position, "heaviside", sympy.Heaviside, *args)


def _where(parser: _Parser, args: Sequence[_Value], position: int) -> sympy.Expr:
    condition = parser.cond(args[0], "first argument of where")
    a = parser.expr(args[1], "second argument of where")
    b = parser.expr(args[2], "third argument of where")
    return _build_piecewise(parser, [(a, condition), (b, sympy.true)], position)


def _build_piecewise(parser: _Parser, branches: list[tuple[sympy.Expr, Any]], position: int) -> sympy.Expr:
    """sympy.Piecewise after joining neighbouring branches with equal values.

    sympy itself joins such branches through distribute_and_over_or, which is exponential in the
    number of branches; (v, c1), (v, c2) means (v, c1 | c2) under first-match semantics.
    """
    merged: list[tuple[sympy.Expr, Any]] = []
    for value, condition in branches:
        if merged and merged[-1][0] == value:
            joined = parser.build(position, "the joined condition", sympy.Or, merged[-1][1], condition)
            merged[-1] = (value, joined)
        else:
            merged.append((value, condition))
    return parser.build(position, "the piecewise expression", sympy.Piecewise, *merged)


def _piecewise(parser: _Parser, args: Sequence[_Value], position: int) -> sympy.Expr:
    branches = []
    for k, arg in enumerate(args):
        last = k == len(args) - 1
        if arg.kind == "pair":
            value = parser.expr(arg.obj[0], "value of a piecewise branch")
            condition = parser.cond(arg.obj[1], "condition of a piecewise branch")
            branches.append((value, condition))
        elif last and arg.kind == "expr" and k > 0:
            branches.append((arg.obj, sympy.true))
        else:
            raise parser.error("each piecewise argument is a (value, condition) pair; only the last "
                               "may be a bare default value", arg.position)
    if branches[-1][1] is not sympy.true:
        raise parser.error("piecewise must end with a (value, True) pair or a default value, so that "
                           "it is defined for every x", args[-1].position)
    return _build_piecewise(parser, branches, position)


def _zoo(name: str) -> Callable:
    """Build the zoo activation ``name`` (with constant parameters) and substitute its argument."""

    def build(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
        argument, params = args[0], list(args[1:])
        if not argument.free_symbols:
            # the zoo's exact constants (selu's, gelu_tanh's) swell into constant expressions
            # that sympy compares only very slowly; an activation at a constant is a number anyway
            raise parser.error(f"{name} needs an argument that depends on x (a zoo activation at a "
                               "constant is not supported)", position)
        for k, p in enumerate(params):
            parser.constant(p, f"parameter {k + 1} of {name}", position)
        if name in ("monomial", "hermite"):
            _order(parser, name, params[0], argument, position)
        if name == "shaped_relu":  # the width enters as sqrt(n): a root of an exact number
            parser.check_exact_power(params[2], sympy.Rational(1, 2), position)
        member = parser.build(position, f"{name}(...)", zoo.by_name, name, *params)
        if member.expr.has(sympy.Piecewise) and argument.has(sympy.Piecewise):
            # the argument would land inside the member's conditions (see the comparison rule)
            raise parser.error(f"{name} is piecewise-defined and cannot take a piecewise-defined "
                               "argument (where, piecewise, elu, selu)", position)
        return parser.build(position, f"{name}(...)", member.expr.xreplace, {x: argument})

    return build


def _order(parser: _Parser, name: str, order: sympy.Expr, argument: sympy.Expr, position: int) -> None:
    limit = MAX_HERMITE_ORDER if name == "hermite" else MAX_EXPONENT
    if not (order.is_Integer and 0 <= order <= limit):
        raise parser.error(f"the order of {name} must be an integer from 0 to {limit}", position)
    if not argument.free_symbols:
        parser.check_exact_power(argument, order, position)


def _functions() -> dict[str, _Function]:
    table: dict[str, _Function] = {}

    def add(names: str, low: int, high: int | None, signature: str, build: Callable, **flags: bool) -> None:
        for name in names.split():
            table[name] = _Function(name, low, high, signature.replace("NAME", name), build, **flags)

    elementary = {
        "exp": sympy.exp, "log": sympy.log, "ln": sympy.log, "abs": sympy.Abs, "sign": sympy.sign,
        "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "sinh": sympy.sinh,
        "cosh": sympy.cosh, "tanh": sympy.tanh, "atan": sympy.atan, "arctan": sympy.atan,
        "erf": sympy.erf, "erfc": sympy.erfc, "Phi": _Phi, "phi": _phi,
    }
    growing = {"exp", "sinh", "cosh", "phi"}
    for name, function in elementary.items():
        add(name, 1, 1, "NAME(u)", _elementary(function), grows=name in growing)
    add("sqrt", 1, 1, "sqrt(u)", _sqrt)
    add("max", 2, None, "max(a, b, ...)", _elementary(sympy.Max))
    add("min", 2, None, "min(a, b, ...)", _elementary(sympy.Min))
    add("heaviside step", 1, 2, "NAME(u) or NAME(u, value_at_0)", _heaviside)
    add("where", 3, 3, "where(condition, value_if_true, value_otherwise)", _where, raw=True)
    add("piecewise", 1, None, "piecewise((value, condition), ..., (value, True))", _piecewise, raw=True)
    zoo_functions = {
        # name: (min args, max args, signature); all are functions of their first argument
        "relu": (1, 1, "relu(u)"), "gelu": (1, 1, "gelu(u)"), "identity": (1, 1, "identity(u)"),
        "hard_tanh": (1, 1, "hard_tanh(u)"), "gelu_tanh": (1, 1, "gelu_tanh(u)"),
        "silu": (1, 1, "silu(u)"), "selu": (1, 1, "selu(u)"), "sigmoid": (1, 1, "sigmoid(u)"),
        "softplus": (1, 1, "softplus(u)"),
        "leaky_relu": (1, 2, "leaky_relu(u, alpha=1/100)"), "elu": (1, 2, "elu(u, alpha=1)"),
        "monomial": (2, 2, "monomial(u, k)"), "hermite": (2, 2, "hermite(u, k)"),
        "shaped_relu": (4, 4, "shaped_relu(u, c_plus, c_minus, n)"),
    }
    for name, (low, high, signature) in zoo_functions.items():
        add(name, low, high, signature, _zoo(name))
    return table


FUNCTIONS: dict[str, _Function] = _functions()
#: Every function name the grammar knows.
FUNCTION_NAMES = frozenset(FUNCTIONS)


# -- entry point --------------------------------------------------------------------------------

def parse_expression(text: str, *, allow_variable: bool = True) -> sympy.Expr:
    """Read an activation string into a sympy expression in the real symbol ``x``.

    With ``allow_variable=False`` the string must denote a constant (a parameter such as
    ``"1/sqrt(2*pi)"``). The grammar is described in :mod:`ncsym.symbolic.parse`; any problem raises
    :class:`~ncsym.core.errors.ActivationParseError` naming it and its position.

    >>> parse_expression("x*(1 + erf(x/sqrt(2)))/2")
    x*(erf(sqrt(2)*x/2) + 1)/2
    >>> parse_expression("relu(x) - 1/sqrt(2*pi)")
    Max(0, x) - sqrt(2)/(2*sqrt(pi))
    >>> parse_expression("leaky_relu(t, 0.1)")
    Max(0, x) + Min(0, x)/10
    >>> parse_expression("1e-3", allow_variable=False)
    1/1000
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    ncsym.core.errors.ActivationParseError: names starting with '_' or containing '__' (dunder names) are not allowed: '__import__' at position 0
    ...
    """
    if not isinstance(text, str):
        raise ActivationParseError(f"expected an expression string, got {type(text).__name__}")
    text = str.__str__(text)  # a plain str, whatever subclass came in
    if len(text) > MAX_LENGTH:
        raise ActivationParseError(f"expression too long: {len(text)} characters (the limit is {MAX_LENGTH})")
    try:
        parser = _Parser(text, allow_variable)
        value = parser.parse()
        end = parser.peek()
        if end.kind != "end":
            hint = " (a missing operator?)" if end.kind in ("name", "number", "(") else ""
            message = _HINTS.get(end.text) if end.kind == "name" else None
            raise parser.error(message or f"unexpected {_describe(end)}{hint}", end.position)
        expr = parser.expr(value, "result")
        _check_result(parser, expr)
        return expr
    except ActivationParseError:
        raise
    except RecursionError:
        raise ActivationParseError("expression nested too deeply") from None
    except Exception as exc:  # a last guard: callers must only ever see ActivationParseError
        raise ActivationParseError(f"cannot parse {text[:80]!r}: {type(exc).__name__}: {str(exc)[:200]}") from None


def _check_result(parser: _Parser, expr: sympy.Expr) -> None:
    """Whole-tree checks the shallow per-step checks cannot make."""
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise parser.error("the expression is undefined or infinite somewhere (a division by zero, "
                           "log(0), ...)", 0)
    if expr.has(sympy.I):
        raise parser.error("the expression is not real (it contains the imaginary unit)", 0)
    if any(_digits(r) > MAX_DIGITS for r in expr.atoms(sympy.Rational)):
        raise parser.error(f"number too large: exact numbers are limited to about {MAX_DIGITS} digits", 0)
    if not expr.free_symbols and expr.is_extended_real is False:
        raise parser.error("the constant is not a real number", 0)
    extra = expr.free_symbols - {x}
    if extra:  # unreachable through the grammar; kept as the contract's last line
        raise parser.error(f"unexpected symbols {sorted(map(str, extra))}", 0)
