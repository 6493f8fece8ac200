"""The standard activations, each a plain :class:`~ncsym.symbolic.activations.Activation`.

Fixed ones are module attributes (``zoo.relu``); parametrized ones are functions with
defaults (``zoo.leaky_relu(0.1)``, ``zoo.elu()``). :func:`by_name` finds either by string.
Parameters given as floats are read exactly (0.1 is 1/10).

>>> from ncsym import zoo
>>> zoo.relu.expr
Max(0, x)
>>> zoo.leaky_relu(0.1).expr
Max(0, x) + Min(0, x)/10
>>> zoo.by_name("gelu") == zoo.gelu
True
"""

from __future__ import annotations

from typing import Any, Callable

import sympy

from ncsym.symbolic.activations import Activation, exact_number, x
from ncsym.core.errors import ActivationParseError, DomainError, check_integer
from ncsym.symbolic.tokenizer import MAX_EXPONENT, MAX_HERMITE_DEGREE

__all__ = [
    "relu", "abs", "step", "sign", "identity", "hard_tanh", "gelu", "gelu_tanh", "silu",
    "tanh", "erf", "sigmoid", "softplus", "selu", "sin", "cos", "exp",
    "leaky_relu", "elu", "monomial", "hermite", "shaped_relu", "by_name", "names", "is_family", "NAMES",
    "SELU_ALPHA", "SELU_LAMBDA",
]

_Phi = (1 + sympy.erf(x / sympy.sqrt(2))) / 2


def _make(name: str, expr: sympy.Expr, latex: str | None = None) -> Activation:
    return Activation(expr, name=name, latex=latex)


relu = _make("relu", sympy.Max(x, 0))
abs = _make("abs", sympy.Abs(x))  # noqa: A001 - the activation's conventional name
step = _make("step", sympy.Heaviside(x))
sign = _make("sign", sympy.sign(x))
identity = _make("identity", x)
hard_tanh = _make("hard_tanh", sympy.Max(-1, sympy.Min(1, x)))
gelu = _make("gelu", x * _Phi, r"x \, \Phi(x)")
gelu_tanh = _make(
    "gelu_tanh",
    x * (1 + sympy.tanh(sympy.sqrt(2 / sympy.pi) * (x + sympy.Rational(44715, 10**6) * x**3))) / 2,
)
silu = _make("silu", x / (1 + sympy.exp(-x)))
tanh = _make("tanh", sympy.tanh(x))
erf = _make("erf", sympy.erf(x))
sigmoid = _make("sigmoid", 1 / (1 + sympy.exp(-x)))
softplus = _make("softplus", sympy.log(1 + sympy.exp(x)))
sin = _make("sin", sympy.sin(x))
cos = _make("cos", sympy.cos(x))
exp = _make("exp", sympy.exp(x))

# SELU's constants in closed form, chosen so that E[selu(z)] = 0 and E[selu(z)^2] = 1:
# E[z; z > 0] = 1/sqrt(2 pi); E[e^z - 1; z < 0] = e^(1/2) Phi(-1) - 1/2;
# E[(e^z - 1)^2; z < 0] = e^2 Phi(-2) - 2 e^(1/2) Phi(-1) + 1/2.
_Phi_m1 = sympy.erfc(1 / sympy.sqrt(2)) / 2
_Phi_m2 = sympy.erfc(sympy.sqrt(2)) / 2
SELU_ALPHA = (1 / sympy.sqrt(2 * sympy.pi)) / (sympy.Rational(1, 2) - sympy.exp(sympy.Rational(1, 2)) * _Phi_m1)
SELU_LAMBDA = 1 / sympy.sqrt(
    sympy.Rational(1, 2)
    + SELU_ALPHA**2 * (sympy.exp(2) * _Phi_m2 - 2 * sympy.exp(sympy.Rational(1, 2)) * _Phi_m1 + sympy.Rational(1, 2))
)
selu = _make(
    "selu",
    SELU_LAMBDA * sympy.Piecewise((x, x > 0), (SELU_ALPHA * (sympy.exp(x) - 1), True)),
    r"\lambda \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases}",
)


def leaky_relu(alpha: Any = sympy.Rational(1, 100)) -> Activation:
    """max(x, 0) + alpha min(x, 0)."""
    a = exact_number(alpha)
    return _make(f"leaky_relu({a})", sympy.Max(x, 0) + a * sympy.Min(x, 0))


def elu(alpha: Any = 1) -> Activation:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    a = exact_number(alpha)
    return _make(f"elu({a})", sympy.Piecewise((x, x > 0), (a * (sympy.exp(x) - 1), True)))


def monomial(k: int = 2) -> Activation:
    """x**k, for an integer degree 0 <= k <= MAX_EXPONENT of the string grammar.

    >>> monomial(3).expr
    x**3
    """
    k = _order(k, MAX_EXPONENT)
    return _make(f"monomial({k})", x**k)


def hermite(k: int = 2) -> Activation:
    """The normalized probabilists' Hermite polynomial He_k(x)/sqrt(k!), 0 <= k <= MAX_HERMITE_DEGREE.

    >>> hermite(2).expr
    sqrt(2)*(x**2 - 1)/2
    """
    k = _order(k, MAX_HERMITE_DEGREE)
    return _make(f"hermite({k})", sympy.hermite_prob(k, x) / sympy.sqrt(sympy.factorial(k)))


def shaped_relu(c_plus: Any = 0, c_minus: Any = -1, n: Any = sympy.Symbol("n", positive=True)) -> Activation:
    """s_+ max(x, 0) + s_- min(x, 0) with s = 1 + c/sqrt(n); n may stay symbolic."""
    cp, cm = exact_number(c_plus), exact_number(c_minus)
    width = exact_number(n)
    if width.is_number and not width > 0:
        raise DomainError(f"shaped_relu needs a positive width n, got {n!r}")
    s_plus, s_minus = 1 + cp / sympy.sqrt(width), 1 + cm / sympy.sqrt(width)
    return _make(f"shaped_relu({cp}, {cm}, {width})", s_plus * sympy.Max(x, 0) + s_minus * sympy.Min(x, 0))


def _order(k: Any, limit: int) -> int:
    """A degree given as an integer (an integral sympy or float value too), at most ``limit``."""
    if isinstance(k, sympy.Basic) and k.is_Integer or isinstance(k, float) and k.is_integer():
        k = int(k)
    return check_integer(k, "order", 0, limit)


_FIXED = {a.name: a for a in (relu, abs, step, sign, identity, hard_tanh, gelu, gelu_tanh, silu, tanh,
                               erf, sigmoid, softplus, selu, sin, cos, exp)}
_FAMILIES: dict[str, Callable[..., Activation]] = {
    "leaky_relu": leaky_relu, "elu": elu, "monomial": monomial, "hermite": hermite,
    "shaped_relu": shaped_relu,
}
#: Every zoo name that :func:`by_name` accepts.
NAMES = frozenset(_FIXED) | frozenset(_FAMILIES)


def names(*, families: bool = True) -> list[str]:
    """The built-in activation names, sorted; ``families=False`` leaves out the parametrized ones.

    >>> names()[:4]
    ['abs', 'cos', 'elu', 'erf']
    >>> "leaky_relu" in names(families=False)
    False
    """
    return sorted(NAMES if families else _FIXED)


def is_family(name: str) -> bool:
    """Whether ``name`` is a parametrized family (``leaky_relu``, ``elu``, ...) rather than one activation.

    >>> is_family("elu"), is_family("relu")
    (True, False)
    """
    return name in _FAMILIES


def by_name(name: str, *params: Any) -> Activation:
    """The zoo activation called ``name`` (families take optional parameters).

    >>> by_name("elu", 2).name
    'elu(2)'
    """
    if name in _FIXED:
        if params:
            raise ActivationParseError(f"{name} takes no parameters")
        return _FIXED[name]
    if name in _FAMILIES:
        return _FAMILIES[name](*params)
    raise ActivationParseError(f"unknown activation {name!r}; known: {', '.join(sorted(NAMES))}")
