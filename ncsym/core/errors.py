"""Exceptions raised by ncsym.

Every error a user can provoke with bad input is a subclass of :class:`NcsymError`,
so scripts can catch the whole family at once, and of the matching builtin
(``ValueError`` for bad values) so generic handlers keep working.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

__all__ = [
    "NcsymError",
    "ActivationParseError",
    "DomainError",
    "NotSquareIntegrableError",
    "NoClosedFormError",
    "ConvergenceError",
    "NonFiniteError",
    "NonFiniteWarning",
    "TimeBudgetError",
]


class NcsymError(Exception):
    """Base class of every ncsym error.

    The message is made readable on the way in: sympy's names for undefined values (``zoo``,
    ``nan``, ``oo``) become words and long ``Piecewise((...))`` dumps a short description, outside
    quoted user text, so that no message shows sympy internals.

    >>> str(NcsymError("the kernel at rho = 1 is zoo, its slope nan"))
    'the kernel at rho = 1 is complex infinity, its slope NaN (undefined)'
    """

    def __init__(self, *args: Any) -> None:
        if args and isinstance(args[0], str):
            args = (readable_message(args[0]), *args[1:])
        super().__init__(*args)


class ActivationParseError(NcsymError, ValueError):
    """An activation string is malformed, uses a name outside the grammar, or is too large."""


class DomainError(NcsymError, ValueError):
    """A parameter lies outside its domain: rho outside [-1, 1], a non-positive variance, NaN, width 0."""


class NotSquareIntegrableError(NcsymError, ValueError):
    """The activation has no finite Gaussian second moment (e.g. exp(x**2), 1/x)."""


class NoClosedFormError(NcsymError):
    """``method="exact"`` was requested but no closed form was found."""


class ConvergenceError(NcsymError, RuntimeError):
    """A numerical procedure did not reach the requested accuracy."""


class NonFiniteError(NcsymError, FloatingPointError):
    """A computation produced inf or NaN (e.g. an activation that overflows, exp(exp(x)))."""


class TimeBudgetError(NcsymError, TimeoutError):
    """A call ran past its time budget (see :mod:`ncsym.core.timebound`); the message names the call."""


class NonFiniteWarning(NcsymError, RuntimeWarning):
    """Non-finite values were met and excluded; the warning says how many and where."""


_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\")")
_WORDS = [
    (re.compile(r"(?<!the )(?<![\w.])zoo(?![\w.])(?! activation| name| member)"), "complex infinity"),
    (re.compile(r"(?<![\w.])nan(?![\w.])"), "NaN (undefined)"),
    (re.compile(r"(?<![\w.])-oo(?![\w.])"), "-infinity"),
    (re.compile(r"(?<![\w.])oo(?![\w.])"), "infinity"),
]
#: Longest Piecewise(...) shown as it is; longer ones are described.
_PIECEWISE_SHOWN = 60


def _piecewise_described(text: str) -> str:
    out, start = [], 0
    while (i := text.find("Piecewise((", start)) >= 0:
        depth, j, branches = 0, i + len("Piecewise"), 0
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if text[j] == "(" and depth == 2:
                branches += 1
            if depth == 0:
                break
            j += 1
        segment = text[i:j + 1]
        out.append(text[start:i])
        out.append(segment if len(segment) <= _PIECEWISE_SHOWN else f"a piecewise expression ({branches} branches)")
        start = j + 1
    out.append(text[start:])
    return "".join(out)


def readable_message(message: str) -> str:
    """``message`` with sympy's internal spellings replaced in its first line (outside quotes).

    >>> readable_message("got oo and -oo, 'zoo' quoted; the zoo activation relu")
    "got infinity and -infinity, 'zoo' quoted; the zoo activation relu"
    """
    first, newline, rest = message.partition("\n")
    parts = _QUOTED.split(first)
    for k in range(0, len(parts), 2):  # even parts lie outside quotes
        text = _piecewise_described(parts[k])
        for pattern, word in _WORDS:
            text = pattern.sub(word, text)
        parts[k] = text
    return "".join(parts) + newline + rest


def check_integer(value: Any, what: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int, or a DomainError naming ``what`` (bools and floats are refused).

    >>> check_integer(3, "width")
    3
    >>> check_integer(0, "width")
    Traceback (most recent call last):
    ...
    ncsym.core.errors.DomainError: width must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DomainError(f"{what} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise DomainError(f"{what} must be at most {maximum}, got {value}")
    return int(value)
