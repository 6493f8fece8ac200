"""Foundations every layer shares: the error types, the :class:`Result` type, number
coercion and checks, and time bounds for symbolic work.

Owns: ``errors`` (NcsymError and its subclasses), ``results`` (Result, working precision),
``numbers`` (exact/real argument checks, combining bounds), ``timebound`` (time-bounded
calls that also hold off the main thread), ``special`` (numpy versions of erf for lambdify).
May import: nothing from ncsym. Kept light, so the numpy-only sampler can use its errors.
"""
