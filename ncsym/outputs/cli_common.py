"""Shared pieces of the ``ncsym`` command: exit codes, usage errors, number parsing, output formatting."""

from __future__ import annotations

import argparse
import json
from typing import Any

import mpmath
import sympy

from ncsym.core.errors import ActivationParseError, DomainError, NoClosedFormError
from ncsym.core.results import Result

#: Exit codes.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_CLOSED_FORM = 0, 1, 2, 3

#: Errors caused by what the user typed (exit code 2).


class UsageError(Exception):
    """A command-line usage error (reported on one line, exit code 2)."""


def correct_digits(result: Result, dps: int) -> int:
    """Significant digits of the value that its error bound vouches for (at most dps)."""
    if result.error == 0:
        return dps
    if result.value == 0:
        return 1
    digits = int(mpmath.floor(mpmath.log10(abs(result.value)) - mpmath.log10(result.error)))
    return max(1, min(dps, digits))


def show(result: Result, dps: int, method: str, *, required: bool = True) -> str:
    """One Result as text: the closed form (and its value unless --exact), or value +- error.

    Under --exact a numeric result is an error when ``required`` (it was asked for), else it
    is shown as having no closed form, never as a number.
    """
    if result.exact is None and method == "exact" and not required:
        return "(no closed form)"
    if result.exact is not None:
        if method == "exact" or result.exact.is_Integer or result.exact.is_Rational or result.exact.is_infinite:
            return str(result.exact)
        return f"{result.exact} = {mpmath.nstr(result.value, dps)}"
    if method == "exact":
        raise NoClosedFormError(f"{result.label or 'a requested quantity'} has no closed form "
                                f"(obtained by {result.method}); drop --exact for a value with an error bound")
    return f"{mpmath.nstr(result.value, correct_digits(result, dps))} +- {mpmath.nstr(result.error, 2)}"


def json_result(result: Result, dps: int, method: str, *, required: bool = True) -> dict:
    """One Result as JSON: exact expression and LaTeX as strings, value and error as strings.

    Under --exact a numeric result raises when ``required``, else its value is left out (null).
    """
    if method == "exact" and result.exact is None:
        if required:
            show(result, dps, method)  # raises NoClosedFormError
        return {"label": result.label, "exact": None, "latex": None, "value": None, "error": None,
                "method": result.method}
    if method == "exact":  # closed forms only: no decimal value next to them
        return {"label": result.label, "exact": str(result.exact), "latex": result.latex(), "value": None,
                "error": None, "method": result.method}
    return {
        "label": result.label,
        "exact": None if result.exact is None else str(result.exact),
        "latex": result.latex(),
        "value": mpmath.nstr(result.value, dps),
        "error": mpmath.nstr(result.error, 3),
        "method": result.method,
    }


def parse_number(text: str, what: str) -> sympy.Expr:
    """A command-line number read exactly: '0.5' -> 1/2, '1/3', 'sqrt(2)/2' (by the whitelisted parser)."""
    from ncsym.symbolic.parse import parse_expression

    try:
        value = parse_expression(text, allow_variable=False)
    except ActivationParseError as exc:
        reason = str(exc).splitlines()[0]
        raise DomainError(f"{what} must be a real number, got {text[:60]!r}: {reason}") from None
    if not (value.is_number and value.is_real and value.is_finite):
        raise DomainError(f"{what} must be a finite real number, got {text!r}")
    return value


def positive_count(value: int, what: str) -> int:
    if value < 1:
        raise DomainError(f"{what} must be a positive integer, got {value}")
    return value


# -- derive ----------------------------------------------------------------------------------


def nonnegative(value: int, what: str) -> int:
    if value < 0:
        raise DomainError(f"{what} must be a non-negative integer, got {value}")
    return value


def dump(data: Any, out) -> None:
    json.dump(data, out, indent=2)
    out.write("\n")


def parse_grid(text: str, what: str) -> list[float]:
    """'lo:hi:n' -> n evenly spaced floats (numbers through the whitelisted parser)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise DomainError(f"{what} must look like LO:HI:N (e.g. 0.5:4:8), got {text[:60]!r}")
    lo, hi = (float(parse_number(v, what)) for v in parts[:2])
    try:
        count = int(parts[2])
    except ValueError:
        raise DomainError(f"{what}: N must be an integer, got {parts[2][:20]!r}") from None
    if not 2 <= count <= 200 or not lo < hi:
        raise DomainError(f"{what} needs LO < HI and 2 <= N <= 200, got {text[:60]!r}")
    return [lo + (hi - lo) * i / (count - 1) for i in range(count)]


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and an exception instead of an exit."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")
