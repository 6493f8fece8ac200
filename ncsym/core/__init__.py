"""Foundations every layer shares: the error types, the :class:`Result` type, number
coercion and checks, and time bounds for symbolic work.

Owns: ``errors`` (NcsymError and its subclasses), ``results`` (Result, working precision),
``numbers`` (exact/real argument checks, combining bounds), ``timebound`` (time-bounded
calls in any thread, and the time budget of public calls), ``limits`` (the documented size
limits: MAX_DPS, MAX_HERMITE_ORDER, ...), ``conversion`` (``safe_sympify``, the only sympify,
which refuses text), ``precision`` (mpmath's precision per thread), ``special`` (numpy
versions of erf for lambdify).
May import: nothing from ncsym. Kept light, so the numpy-only sampler can use its errors.
"""
