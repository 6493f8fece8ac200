"""The first stage of the activation-string parser: limits, names, the tokenizer and exact numbers.

Every limit here bounds work sympy might otherwise do on hostile input (see
:mod:`ncsym.symbolic.parse` for the grammar and what each limit is for). The tokenizer refuses
everything outside the grammar's alphabet (quotes, brackets, dots, dunder names, non-ASCII) with
an :class:`~ncsym.core.errors.ActivationParseError` that shows the position.

>>> [t.text for t in tokenize("2*x^3")]
['2', '*', 'x', '^', '3', '']
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import mpmath
import sympy

from ncsym.core.errors import ActivationParseError

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
#: Largest degree of the Hermite polynomial activation hermite(u, k) (and of zoo.hermite).
MAX_HERMITE_DEGREE = 100
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
class Token:
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


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
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
            tokens.append(Token("number", match.group(), i))
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
            tokens.append(Token("name", name, i))
            i = match.end()
            continue
        if c == ".":
            raise _error("'.' is not allowed here (no attribute access)", text, i)
        if c == "(":
            open_parens.append(i)
            if len(open_parens) > MAX_NESTING:
                raise _error(f"parentheses nested deeper than {MAX_NESTING} levels", text, i)
            tokens.append(Token("(", c, i))
            i += 1
            continue
        if c == ")":
            if not open_parens:
                raise _error("unbalanced ')': there is no matching '('", text, i)
            open_parens.pop()
            tokens.append(Token(")", c, i))
            i += 1
            continue
        if c == ",":
            tokens.append(Token(",", c, i))
            i += 1
            continue
        pair = text[i:i + 2]
        if pair in _OPERATORS_2:
            tokens.append(Token("op", pair, i))
            i += 2
            continue
        if pair in _REJECTED_2:
            raise _error(_REJECTED_2[pair], text, i)
        if c in _OPERATORS_1:
            tokens.append(Token("op", c, i))
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
    tokens.append(Token("end", "", n))
    return tokens


def _exact_number(token: Token, text: str) -> sympy.Rational:
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

