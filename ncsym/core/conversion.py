"""The one home of ``sympify`` in ncsym: :func:`safe_sympify`, which refuses text.

``sympy.sympify`` on a string runs ``parse_expr``, which evaluates Python: a string such as
``"__import__('os').system(...)"`` would execute. Code inside ncsym converts only values it
built itself (sympy objects, Python and numpy numbers); user text goes through the whitelisted
parser, :func:`ncsym.symbolic.parse.parse_expression`. ``safe_sympify`` makes that rule
mechanical: it calls ``sympify(..., strict=True)``, which never parses strings, and raises
:class:`~ncsym.core.errors.ActivationParseError` for any ``str`` or ``bytes`` at all.

>>> safe_sympify(3), safe_sympify(0.5), safe_sympify(sympy.pi)
(3, 0.500000000000000, pi)
>>> safe_sympify("1/3")
Traceback (most recent call last):
...
ncsym.core.errors.ActivationParseError: text is not converted here ('1/3'); read it with ncsym.parse_expression (numbers: allow_variable=False)
"""

from __future__ import annotations

from typing import Any

import sympy

from ncsym.core.errors import ActivationParseError, DomainError

__all__ = ["safe_sympify"]


def safe_sympify(value: Any) -> sympy.Basic:
    """``value`` as a sympy object, never parsing text (sympy objects pass unchanged)."""
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        shown = repr(value[:40]) + ("..." if len(value) > 40 else "")
        raise ActivationParseError(f"text is not converted here ({shown}); read it with "
                                   "ncsym.parse_expression (numbers: allow_variable=False)")
    try:
        # strict: no string parsing, no iterables, no objects sympy does not know
        return sympy.sympify(value, strict=True)
    except (sympy.SympifyError, TypeError, ValueError) as exc:
        raise DomainError(f"expected a number or a sympy expression, got {type(value).__name__} "
                          f"{str(value)[:60]!r}") from exc
