"""Safe parsing of activation strings through a whitelisted grammar.

Python is never evaluated: the text is split by a small tokenizer
(:mod:`ncsym.symbolic.tokenizer`, which also holds the limits below) and read by a
precedence-climbing (Pratt) parser (:mod:`ncsym.symbolic.grammar`, with the function table in
:mod:`ncsym.symbolic.functions`) that builds sympy objects directly. Neither ``eval``,
``exec``, ``sympify`` nor ``parse_expr`` ever sees user text. This module is the entry point.

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

import sympy

from ncsym.core.errors import ActivationParseError
from ncsym.symbolic.activations import x
from ncsym.symbolic.functions import FUNCTION_NAMES, FUNCTIONS  # noqa: F401  (the function table)
from ncsym.symbolic.grammar import _HINTS, _describe, _Parser
from ncsym.symbolic.tokenizer import (  # noqa: F401  (the limits are documented here)
    CONSTANT_NAMES, MAX_ARGUMENT, MAX_CONDITIONS, MAX_DIGITS, MAX_EXPONENT, MAX_HERMITE_DEGREE, MAX_LENGTH,
    MAX_LOG10, MAX_NAME_LENGTH, MAX_NESTING, MAX_RADICAND_DIGITS, MAX_SECONDS, MAX_TOKENS, VARIABLE_NAMES,
    _digits,
)

__all__ = ["parse_expression", "FUNCTION_NAMES", "CONSTANT_NAMES", "VARIABLE_NAMES"]

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

