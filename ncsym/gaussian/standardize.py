"""Activations standardized by their Gaussian moments: centered (mean 0) and normalized (E = 1).

They live here, not on :class:`~ncsym.symbolic.activations.Activation`, because they need
the Gaussian layer and the symbolic layer imports nothing above it.
"""

from __future__ import annotations

from typing import Any

import sympy

from ncsym.core.results import Result
from ncsym.gaussian.moments import gaussian_mean, gaussian_moment
from ncsym.symbolic.activations import Activation, activation

__all__ = ["centered", "normalized"]


def _constant(result: Result) -> sympy.Expr:
    """The exact value, or the numeric one at its own precision (the activation then says so)."""
    return result.exact if result.exact is not None else sympy.Float(result.value, result.dps)


def centered(act: Any, *, dps: int | None = None) -> Activation:
    """sigma - E[sigma(z)]: exact when the mean has a closed form, else to ``dps`` digits.

    >>> from ncsym import zoo
    >>> centered(zoo.relu).expr
    Max(0, x) - sqrt(2)/(2*sqrt(pi))
    """
    act = activation(act)
    return act.shifted(-_constant(gaussian_mean(act, dps=dps)))


def normalized(act: Any, *, dps: int | None = None) -> Activation:
    """sigma / sqrt(E[sigma(z)^2]), so that the Gaussian second moment is 1.

    >>> from ncsym import zoo
    >>> normalized(zoo.relu).expr
    sqrt(2)*Max(0, x)
    """
    act = activation(act)
    norm = _constant(gaussian_moment(act, 2, dps=dps))
    return Activation(act.expr / sympy.sqrt(norm), name=f"({act.name})/sqrt({sympy.sstr(norm)})")
