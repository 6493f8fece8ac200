"""The documented limits on sizes a public call accepts, in one place.

Each limit keeps a call from running for minutes or exhausting memory on an input that looks
harmless (``dps=10**6``, ``n_max=10**7``); a call beyond a limit is refused at once with a
:class:`~ncsym.core.errors.DomainError` that names the limit. The limits are generous for
the mathematics (hundreds of digits, thousands of Hermite coefficients); work inside them that
still takes long stops at the time budget of :mod:`ncsym.core.timebound`.

- :data:`MAX_DPS`: decimal digits of working precision (``dps=``);
- :data:`MAX_HERMITE_ORDER`: the highest Hermite order ``n_max`` (coefficients, Parseval tails);
- :data:`MAX_MOMENT_ORDER`: the power ``k`` of a Gaussian moment E[sigma^k] and ``z_power``;
- :data:`MAX_DEPTH`: the number of layers a map is iterated through.

>>> check_limit(40, "dps", MAX_DPS)
40
>>> check_limit(10**6, "dps", MAX_DPS)
Traceback (most recent call last):
...
ncsym.core.errors.DomainError: dps must be at most 10000 (ncsym.core.limits.MAX_DPS), got 1000000
"""

from __future__ import annotations

import numbers
from typing import Any

from ncsym.core.errors import DomainError

__all__ = ["MAX_DPS", "MAX_HERMITE_ORDER", "MAX_MOMENT_ORDER", "MAX_DEPTH", "check_limit"]

#: Most decimal digits of working precision.
MAX_DPS = 10_000
#: Highest Hermite order: the exact ReLU coefficients up to 5000 take seconds, 10**4 most of a minute.
MAX_HERMITE_ORDER = 5_000
#: Highest power k in E[sigma^k] (and z^k).
MAX_MOMENT_ORDER = 1_000
#: Most layers a correlation or variance map is iterated through.
MAX_DEPTH = 100_000

def check_limit(value: Any, what: str, limit: int, minimum: int = 0) -> Any:
    """``value`` unchanged, or a DomainError when it is an integer above ``limit`` (or below ``minimum``).

    Only the size is checked here: a value that is not an integer passes through, so that the
    caller's own type check reports it in its own words. ``limit`` is one of this module's
    constants, named in the message.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return value
    name = next((n for n in __all__[:-1] if globals()[n] == limit), None)
    where = f" (ncsym.core.limits.{name})" if name else ""
    if value > limit:
        raise DomainError(f"{what} must be at most {limit}{where}, got {value}")
    if value < minimum:
        raise DomainError(f"{what} must be at least {minimum}, got {value}")
    return value
