"""Closed forms ncsym derived, as plain functions for numpy, JAX or PyTorch.

Only expressions ncsym built itself are compiled (sympy's ``lambdify`` on a derived closed
form); user text reaches them only through the whitelisted parser, as an activation.

>>> import numpy as np
>>> k = kernel_function("relu")            # k(rho) of the arc-cosine kernel
>>> float(k(np.array([1.0]))[0])
0.5
>>> nngp = nngp_function("erf")             # (cov12, var1, var2) -> E[erf(u) erf(v)]
>>> bool(np.isclose(nngp(0.5, 1.0, 1.0), 2 / np.pi * np.arcsin(1 / 3)))
True
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Sequence

import sympy

from ncsym.core.errors import DomainError, NoClosedFormError
from ncsym.core.limits import MAX_MOMENT_ORDER, check_limit
from ncsym.core.results import Result
from ncsym.core.special import NUMPY_MODULES
from ncsym.symbolic.activations import activation, x
from ncsym.gaussian.moments import exact_expectation
from ncsym.kernels.dual import DualKernel, dual_kernel, rho

__all__ = ["BACKENDS", "to_function", "kernel_function", "nngp_function", "moment_function",
           "activation_function"]

#: The array libraries a closed form can be compiled for.
BACKENDS = ("numpy", "jax", "torch")

#: The symbols of the generated functions' arguments: a covariance and two variances.
COV, VAR1, VAR2 = sympy.symbols("cov12 var1 var2", positive=True)
_Q = sympy.Symbol("q", positive=True)


def _modules(backend: str) -> list:
    """lambdify's modules for a backend; erf/erfc are mapped by hand (sympy prints math.erf otherwise)."""
    if backend == "numpy":
        return NUMPY_MODULES
    if backend == "jax":
        _require("jax")
        special = importlib.import_module("jax.scipy.special")
        return [{"erf": special.erf, "erfc": special.erfc}, "jax"]
    if backend == "torch":
        torch = _require("torch")
        return [{"erf": torch.erf, "erfc": torch.erfc, "Heaviside": lambda t, h=0.5: torch.heaviside(
            t, torch.full_like(t, h))}, "torch"]
    raise DomainError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _require(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        extra = {"jax": "jax", "torch": "torch"}[name]
        raise ImportError(f"the {name} backend needs {name} installed (pip install {extra})") from None


def to_function(obj: Any, backend: str = "numpy", *, args: Sequence[sympy.Symbol] | None = None) -> Callable:
    """A derived closed form as a function of arrays for ``backend`` ("numpy", "jax", "torch").

    ``obj`` is a :class:`~ncsym.kernels.dual.DualKernel` (a function of rho), an exact
    :class:`~ncsym.core.results.Result` (a constant) or a sympy expression ncsym derived
    (arguments ``args``, default its free symbols sorted by name). A kernel without a closed
    form raises :class:`~ncsym.core.errors.NoClosedFormError`: its series has no finite formula.

    >>> import numpy as np
    >>> f = to_function(dual_kernel("erf"))
    >>> bool(np.isclose(f(0.5), 2 / np.pi * np.arcsin(1 / 3)))
    True
    """
    if isinstance(obj, DualKernel):
        if obj.closed_form is None:
            raise NoClosedFormError(f"the dual kernel of {obj.activation.name} has no closed form to compile "
                                    "(evaluate it with the kernel itself, or use kernel_matrix)")
        expr, symbols = obj.closed_form, [rho] if args is None else list(args)
    elif isinstance(obj, Result):
        if obj.exact is None:
            raise NoClosedFormError(f"{obj.label or 'this result'} is numeric ({obj.method}); nothing to compile")
        expr, symbols = obj.exact, [] if args is None else list(args)
    elif isinstance(obj, sympy.Basic):
        expr = obj
        symbols = sorted(expr.free_symbols, key=lambda s: s.name) if args is None else list(args)
    else:
        raise DomainError(f"to_function takes a DualKernel, an exact Result or a sympy expression, got "
                          f"{type(obj).__name__} (strings go through ncsym.activation first)")
    missing = expr.free_symbols - set(symbols)
    if missing:
        raise DomainError(f"the expression has free symbols {sorted(map(str, missing))} not among the arguments")
    return sympy.lambdify(symbols, expr, modules=_modules(backend))


def kernel_function(act: Any, backend: str = "numpy", *, derivative: bool = False) -> Callable:
    """k(rho) = E[sigma(u) sigma(v)] of unit-variance inputs (``derivative``: of sigma'), compiled.

    >>> import numpy as np
    >>> kdot = kernel_function("relu", derivative=True)
    >>> float(kdot(np.array([0.0]))[0])
    0.25
    """
    kernel = dual_kernel(act)
    return to_function(kernel.derivative() if derivative else kernel, backend)


def nngp_function(act: Any, backend: str = "numpy", *, derivative: bool = False) -> Callable:
    """(cov12, var1, var2) -> E[sigma(u) sigma(v)] with Var u = var1, Var v = var2, Cov = cov12.

    This is the signature of neural-tangents' ``stax.Elementwise(fn, nngp_fn)``; with
    ``derivative=True`` it is E[sigma'(u) sigma'(v)], the factor the NTK recursion needs.

    >>> import numpy as np
    >>> f = nngp_function("relu")
    >>> bool(np.isclose(f(2.0, 2.0, 2.0), 1.0))   # E[relu(u)^2] = q/2
    True
    """
    kernel = dual_kernel(act, q1=VAR1, q2=VAR2)
    if derivative:
        kernel = kernel.derivative()
    if kernel.closed_form is None:
        raise NoClosedFormError(f"the dual kernel of {kernel.activation.name} has no closed form for general "
                                "variances")
    expr = kernel.closed_form.subs(rho, COV / sympy.sqrt(VAR1 * VAR2))
    return to_function(expr, backend, args=(COV, VAR1, VAR2))


def moment_function(act: Any, k: int = 2, backend: str = "numpy") -> Callable:
    """q -> E[sigma(sqrt(q) z)^k], compiled from the exact engine's closed form in q.

    >>> import numpy as np
    >>> m = moment_function("erf", 2)
    >>> bool(np.isclose(m(1.0), 2 / np.pi * np.arcsin(2 / 3)))
    True
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise DomainError(f"moment order k must be a non-negative integer, got {k!r}")
    check_limit(k, "moment order k", MAX_MOMENT_ORDER)
    expr = exact_expectation([activation(act)] * k, q=_Q) if k else sympy.Integer(1)
    return to_function(expr, backend, args=(_Q,))


def activation_function(act: Any, backend: str = "numpy") -> Callable:
    """sigma itself, compiled (the ``fn`` of ``stax.Elementwise``).

    >>> import numpy as np
    >>> activation_function("relu")(np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return to_function(activation(act).expr, backend, args=(x,))

