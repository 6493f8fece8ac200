"""Exceptions raised by ncsym.

Every error a user can provoke with bad input is a subclass of :class:`NcsymError`,
so scripts can catch the whole family at once, and of the matching builtin
(``ValueError`` for bad values) so generic handlers keep working.
"""

from __future__ import annotations

import numbers
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
    """Base class of every ncsym error."""


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
