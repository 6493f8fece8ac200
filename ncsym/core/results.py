"""The Result type: one derived number that knows how it was obtained.

Every quantity ncsym derives (a Gaussian moment, a Hermite coefficient, a kernel value)
comes back as a :class:`Result`: the exact sympy expression when there is one, an mpmath
value at the requested precision, an error bound (zero when exact) and the method used.
Floats come out only when asked for, with ``float(result)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from ncsym.core import precision

__all__ = ["Result", "working_dps", "to_mpf"]

precision.install()  # mpmath's precision per thread: see ncsym.core.precision

#: Extra digits carried internally so that the digits handed back are all correct.
GUARD_DIGITS = 10


def working_dps(dps: int | None) -> int:
    """The precision to use: ``dps`` if given (at most :data:`ncsym.core.limits.MAX_DPS`), else
    mpmath's current ``mp.dps``.

    >>> working_dps(40)
    40
    >>> working_dps(None) == mpmath.mp.dps
    True
    """
    if dps is None:
        return int(mpmath.mp.dps)
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 1:
        from ncsym.core.errors import DomainError

        raise DomainError(f"dps must be a positive integer, got {dps!r}")
    from ncsym.core.limits import MAX_DPS, check_limit

    return check_limit(dps, "dps", MAX_DPS)


def to_mpf(expr: sympy.Expr, dps: int) -> mpmath.mpf:
    """Evaluate an exact sympy expression to an mpmath number with ``dps`` correct digits.

    >>> mpmath.nstr(to_mpf(sympy.sqrt(2), 20), 20)
    '1.4142135623730950488'
    """
    with mpmath.workdps(dps + GUARD_DIGITS):
        number = sympy.N(expr, dps + GUARD_DIGITS)
        if number.is_real is False or not number.is_number:
            real, imag = number.as_real_imag()
            if not imag.is_zero and abs(sympy.N(imag, 5)) > sympy.Float(10) ** (-dps):
                from ncsym.core.errors import DomainError

                raise DomainError(f"expected a real number, got {number}")
            number = real
        return mpmath.mpf(sympy.Float(number, dps + GUARD_DIGITS)._mpf_)


@dataclass(frozen=True)
class Result:
    """A derived quantity: exact expression (or None), value, error bound, method.

    >>> r = Result.from_exact(sympy.sqrt(2) / 2, label="E[x]", method="closed form")
    >>> r.exact
    sqrt(2)/2
    >>> r.error, r.certified
    (mpf('0.0'), True)
    >>> float(r)
    0.7071067811865476
    >>> r.latex()
    '\\\\frac{\\\\sqrt{2}}{2}'
    """

    exact: sympy.Expr | None
    value: Any  # mpmath.mpf
    error: Any  # mpmath.mpf, an upper bound on |value - true value|
    method: str
    label: str = ""
    dps: int = 15
    details: dict = field(default_factory=dict, compare=False, hash=False, repr=False)
    #: True when ``error`` is proved (exact, or ball arithmetic / validated quadrature), False
    #: when it is an estimate; None (the default) means "exact results only".
    certified: bool | None = None

    def __post_init__(self) -> None:
        if self.certified is None:
            object.__setattr__(self, "certified", self.exact is not None)

    @classmethod
    def from_exact(
        cls, expr: sympy.Expr, *, label: str = "", method: str = "exact", dps: int | None = None,
        details: dict | None = None,
    ) -> "Result":
        """Wrap an exact sympy expression; its value is computed to ``dps`` digits."""
        from ncsym.core.conversion import safe_sympify

        dps = working_dps(dps)
        expr = safe_sympify(expr)
        return cls(expr, to_mpf(expr, dps), mpmath.mpf(0), method, label, dps, dict(details or {}))

    @classmethod
    def from_numeric(
        cls, value: Any, error: Any, *, label: str = "", method: str, dps: int | None = None,
        details: dict | None = None, certified: bool = False,
    ) -> "Result":
        """Wrap a numeric value with its error bound (``certified`` when the bound is proved)."""
        dps = working_dps(dps)
        with mpmath.workdps(dps + GUARD_DIGITS):
            # Storing the value rounds it to dps + GUARD_DIGITS digits: the bound must cover that.
            value = mpmath.mpf(value)
            error = abs(mpmath.mpf(error)) + abs(value) * mpmath.eps
        if not mpmath.isfinite(value) or not mpmath.isfinite(error):
            from ncsym.core.errors import ConvergenceError

            raise ConvergenceError(f"{label or 'result'}: non-finite value {value} (error {error})")
        return cls(None, value, error, method, label, dps, dict(details or {}), bool(certified))

    @property
    def is_exact(self) -> bool:
        """True when ``exact`` holds a closed form."""
        return self.exact is not None

    def __float__(self) -> float:
        return float(self.value)

    def latex(self) -> str:
        """LaTeX of the exact expression, or of the value with its error bound."""
        if self.exact is not None:
            return sympy.latex(self.exact)
        digits = max(1, min(self.dps, _correct_digits(self.value, self.error)))
        text = mpmath.nstr(self.value, digits)
        if self.error == 0:
            return text
        return rf"{text} \pm {mpmath.nstr(self.error, 2)}"

    def _repr_latex_(self) -> str:
        prefix = rf"\text{{{_latex_escape(self.label)}}} = " if self.label else ""
        return f"${prefix}{self.latex()}$"

    def __repr__(self) -> str:
        shown = mpmath.nstr(self.value, min(self.dps, 20))
        if self.exact is not None:
            return f"Result({self.label + ' = ' if self.label else ''}{self.exact} = {shown}, exact, {self.method})"
        return (
            f"Result({self.label + ' = ' if self.label else ''}{shown} "
            f"± {mpmath.nstr(self.error, 3)}, {self.method})"
        )


def _correct_digits(value: Any, error: Any) -> int:
    """How many significant digits of ``value`` the error bound vouches for."""
    if error == 0:
        return 10**6
    if value == 0:
        return 1
    return max(1, int(math.floor(float(mpmath.log10(abs(value)) - mpmath.log10(error)))))


def _latex_escape(text: str) -> str:
    return text.replace("_", r"\_").replace("^", r"\^{}").replace("#", r"\#").replace("%", r"\%")
