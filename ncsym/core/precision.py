"""mpmath's working precision, per thread.

mpmath keeps one working precision (``mpmath.mp.prec``) for the whole process. ncsym raises
it inside every numeric routine (``with mpmath.workdps(...)``), always restoring it, also on
error. In one thread that is invisible to the caller; with several threads it is not: a thread
computing at 50 digits would raise the precision under a thread computing at 15, and the one
that leaves its block first would drop the other's precision mid-computation (and the saved
values, restored out of order, can leave the process at the wrong precision for good).

:func:`install` (run when ncsym is imported) makes the precision of mpmath's ``mp`` and ``iv``
contexts a per-thread setting, the way the :mod:`decimal` module's contexts are:

- a thread that never set a precision reads the process-wide one (so a script that sets
  ``mpmath.mp.dps = 30`` and starts threads gives them 30 digits);
- the main thread's assignments set the process-wide precision, exactly as before;
- another thread's first assignment gives it its own precision, which no other thread sees
  and which it keeps (also across a fork, so time-bounded child processes inherit it).

Single-threaded behaviour is unchanged, at full speed: the per-thread lists are put in place only
when a thread other than the main one first sets a precision. From then on every mpmath
operation reads the precision through one Python-level lookup (mpf arithmetic measured about
1.5 to 2 times slower; quadrature, dominated by function evaluations, much less).

>>> import threading
>>> seen = []
>>> def worker():
...     mpmath.mp.dps = 50
...     seen.append(mpmath.mp.dps)
>>> with mpmath.workdps(15):
...     t = threading.Thread(target=worker); t.start(); t.join()
...     print(seen, mpmath.mp.dps)
[50] 15
"""

from __future__ import annotations

import threading
from typing import Any

import mpmath

__all__ = ["install", "installed"]

_LOCAL = threading.local()
_ACTIVATION = threading.Lock()


class _PerThread(list):
    """Stands in for a context's shared ``[prec, rounding]`` list (``[prec]`` for ``iv``).

    mpmath unpacks this list on every operation (``prec, rounding = ctx._prec_rounding``) and
    assigns into it when the precision changes; both go to the calling thread's own copy when it
    has one, else to the shared values held by the list itself.
    """

    def __init__(self, shared: list, key: str):
        super().__init__(shared)
        self._key = f"{key}_list"  # the thread's own list lives at _LOCAL.<key>_list

    # read on every mpmath operation: one attribute lookup, no further calls
    def __iter__(self):
        own = getattr(_LOCAL, self._key, None)
        return list.__iter__(self) if own is None else iter(own)

    def __getitem__(self, index: Any) -> Any:
        own = getattr(_LOCAL, self._key, None)
        return list.__getitem__(self, index) if own is None else own[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        own = getattr(_LOCAL, self._key, None)
        if own is not None:
            own[index] = value
        else:
            list.__setitem__(self, index, value)


def _private(name: str, key: str) -> property:
    """A per-thread stand-in for a plain attribute of the context (``_prec``, ``_dps``)."""
    shared = f"_shared{name}"

    def get(ctx: Any) -> Any:
        state = getattr(_LOCAL, key, None)
        return ctx.__dict__[shared] if state is None else state[name]

    def set_(ctx: Any, value: Any) -> None:
        state = getattr(_LOCAL, key, None)
        if state is None:
            ctx.__dict__[shared] = value
        else:
            state[name] = value

    return property(get, set_)


def _public(name: str, key: str, list_name: str, original: property) -> property:
    """``prec`` / ``dps``: a thread other than the main one gets its own copy on its first write."""

    def set_(ctx: Any, value: Any) -> None:
        if getattr(_LOCAL, key, None) is None and threading.current_thread() is not threading.main_thread():
            per_thread = _activate(ctx, list_name, key)
            setattr(_LOCAL, f"{key}_list", list(list.__iter__(per_thread)))
            setattr(_LOCAL, key, {"_prec": ctx.__dict__.get("_shared_prec"), "_dps": ctx.__dict__["_shared_dps"]})
        original.fset(ctx, value)

    return property(original.fget, set_)


def _activate(ctx: Any, list_name: str, key: str) -> _PerThread:
    """Put the per-thread list where mpmath reads the precision (once: until a thread other than
    the main one sets a precision, the context keeps its plain list and runs at full speed)."""
    with _ACTIVATION:
        current = ctx.__dict__[list_name]
        if isinstance(current, _PerThread):
            return current
        per_thread = _PerThread(current, key)
        # the number types captured the list object itself in their _ctxdata
        for kind in ("mpf", "mpc", "constant", "_constant"):
            data = getattr(getattr(ctx, kind, None), "_ctxdata", None)
            if data is not None and data[2] is current:
                data[2] = per_thread
        ctx.__dict__[list_name] = per_thread
        return per_thread


def _patch(ctx: Any, list_name: str, key: str) -> None:
    names = [n for n in ("_prec", "_dps") if n in ctx.__dict__ and not isinstance(ctx.__dict__[n], list)]
    for name in names:
        ctx.__dict__[f"_shared{name}"] = ctx.__dict__.pop(name)
    attributes = {n: _private(n, key) for n in names}
    for name in ("prec", "dps"):
        attributes[name] = _public(name, key, list_name, getattr(type(ctx), name))
    ctx.__class__ = type(f"PerThread{type(ctx).__name__}", (type(ctx),), attributes)


def installed() -> bool:
    """True when mpmath's precision is per thread (after :func:`install`)."""
    return type(mpmath.mp).__name__.startswith("PerThread")


def install() -> None:
    """Make ``mpmath.mp`` and ``mpmath.iv`` keep their precision per thread (idempotent)."""
    with _ACTIVATION:
        if installed():
            return
        _patch(mpmath.mp, "_prec_rounding", "mp")
        # iv keeps its precision in a one-element list _prec, which its number types also captured
        _patch(mpmath.iv, "_prec", "iv")
