"""The Activation type: one real function sigma(x), held as a sympy expression.

An :class:`Activation` knows its pieces (the smooth expression on each interval between
breakpoints), its breakpoints (kinks and jumps), its distributional derivatives (a jump of
size J at b contributes ``J * DiracDelta(x - b)``), numpy and mpmath callables, and LaTeX.
Transformations (shift, scale, affine input, centering, normalizing) return new
activations. Everything downstream (Gaussian expectations, Hermite coefficients, kernels)
reads the pieces and never re-parses the expression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

from ncsym.core.errors import ActivationParseError, DomainError

__all__ = ["Activation", "Piece", "Delta", "x", "activation", "exact_number"]

#: The one real variable every activation is a function of.
x = sympy.Symbol("x", real=True)

_REAL_LINE = sympy.Interval(-sympy.oo, sympy.oo)


@dataclass(frozen=True)
class Piece:
    """``expr`` is the activation on the open interval (lo, hi); lo, hi may be -oo, oo."""

    lo: sympy.Expr
    hi: sympy.Expr
    expr: sympy.Expr


@dataclass(frozen=True)
class Delta:
    """The distribution ``coeff * DiracDelta(x - point, order)``."""

    point: sympy.Expr
    order: int
    coeff: sympy.Expr


def exact_number(value: Any) -> sympy.Expr:
    """Turn a user's number into an exact sympy number: 0.1 becomes 1/10, not a binary float.

    >>> exact_number(0.1)
    1/10
    >>> exact_number(3)
    3
    >>> exact_number(sympy.pi)
    pi
    """
    if isinstance(value, bool):
        raise DomainError(f"expected a number, got {value!r}")
    if isinstance(value, sympy.Basic):
        if value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise DomainError(f"expected a finite number, got {value}")
        return value
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise DomainError(f"expected a finite number, got {value!r}")
        return sympy.Rational(repr(float(value)))
    if isinstance(value, str):
        from ncsym.symbolic.parse import parse_expression

        return parse_expression(value, allow_variable=False)
    raise DomainError(f"expected a number, got {type(value).__name__} {value!r}")


class Activation:
    """A real activation function sigma(x), exact and symbolic.

    Build one from a sympy expression in ``x``, a number, or a string, which is read by the
    whitelisted parser (:func:`ncsym.symbolic.parse.parse_expression`, as :func:`activation`
    does; a zoo name gives that zoo member's expression). Python is never evaluated. The
    expression may use the functions of :data:`SUPPORTED_FUNCTIONS`; functions with infinitely
    many jumps or poles (floor, gamma, ...) and undefined values (nan, zoo, oo) are refused.

    >>> from ncsym.symbolic.activations import Activation, x
    >>> relu = Activation(sympy.Max(x, 0), name="relu")
    >>> relu.breakpoints
    (0,)
    >>> relu.derivative().pieces
    (Piece(lo=-oo, hi=0, expr=0), Piece(lo=0, hi=oo, expr=1))
    >>> relu.derivative(2).deltas
    (Delta(point=0, order=0, coeff=1),)
    >>> relu.numpy()(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    __slots__ = ("expr", "name", "__dict__")

    def __init__(self, expr: Any, name: str | None = None, latex: str | None = None):
        if isinstance(expr, str):
            # text goes through the whitelisted parser only, exactly as in activation(text)
            text = expr.strip()
            expr = _parse_text(text)
            name = text if name is None else name
        elif not isinstance(expr, sympy.Basic):
            expr = exact_number(expr)  # numbers; any other type is refused there
        _check_supported(expr)
        free = expr.free_symbols
        if x not in free:
            # Accept an expression in any single symbol (a plain Symbol("x"), "t", ...).
            variables = [s for s in free if s.name in ("x", "z", "t", "u")]
            if len(variables) == 1:
                expr = expr.subs(variables[0], x)
        if expr.has(sympy.I) and not expr.is_real:
            raise DomainError(f"activation must be real-valued, got {expr}")
        self.expr = expr
        self.name = name if name is not None else str(expr)
        self._latex = latex

    # -- identity -------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Activation({self.name})" if self.name == str(self.expr) else f"Activation({self.name}: {self.expr})"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and self.expr == other.expr

    def __hash__(self) -> int:
        return hash(("Activation", self.expr))

    @property
    def parameters(self) -> frozenset:
        """Free symbols other than x (symbolic parameters such as a width n)."""
        return frozenset(self.expr.free_symbols - {x})

    def subs(self, *args: Any, **kwargs: Any) -> "Activation":
        """Substitute values for symbolic parameters (text is read by the whitelisted parser).

        >>> n = sympy.Symbol("n", positive=True)
        >>> Activation(sympy.Max(x, 0) / n).subs(n, "4").expr
        Max(0, x)/4
        """
        if len(args) == 1 and isinstance(args[0], dict):
            pairs = list(args[0].items())
        elif len(args) == 1 and isinstance(args[0], (list, tuple)):
            pairs = list(args[0])
        elif len(args) == 2:
            pairs = [tuple(args)]
        else:
            raise DomainError("subs takes (old, new), a dict or a list of (old, new) pairs")
        # sympy's own subs would sympify text, which evaluates Python: convert every value here
        pairs = [(_substitution_value(old), _substitution_value(new)) for old, new in pairs]
        return Activation(self.expr.subs(pairs, **kwargs))

    # -- structure ------------------------------------------------------------------
    @cached_property
    def _decomposition(self) -> tuple[tuple[Piece, ...], tuple[Delta, ...]]:
        return _decompose(self.expr)

    @property
    def pieces(self) -> tuple[Piece, ...]:
        """The smooth expression on each open interval, left to right, covering the real line."""
        return self._decomposition[0]

    @property
    def deltas(self) -> tuple[Delta, ...]:
        """Dirac-delta terms (present only in distributional derivatives)."""
        return self._decomposition[1]

    @property
    def is_distribution(self) -> bool:
        """True when the expression contains Dirac deltas (a derivative of a jump)."""
        return bool(self.deltas)

    @cached_property
    def breakpoints(self) -> tuple[sympy.Expr, ...]:
        """Points where the activation or one of its derivatives jumps, sorted."""
        points = {p.hi for p in self.pieces[:-1]} | {d.point for d in self.deltas}
        return tuple(sorted(points, key=_sort_key))

    def jump(self, point: sympy.Expr, order: int = 0) -> sympy.Expr:
        """Jump sigma^(order)(point+) - sigma^(order)(point-) of the smooth part.

        >>> from ncsym import zoo
        >>> zoo.step.jump(0), zoo.relu.jump(0, 1), zoo.relu.jump(0)
        (1, 1, 0)
        """
        right = left = None
        for piece in self.pieces:
            if piece.hi == point:
                left = piece.expr
            if piece.lo == point:
                right = piece.expr
        if left is None or right is None:
            return sympy.Integer(0)
        return sympy.simplify(_one_sided(sympy.diff(right, x, order), point, "+")
                              - _one_sided(sympy.diff(left, x, order), point, "-"))

    @cached_property
    def parity(self) -> int | None:
        """-1 if sigma is odd, +1 if even (both proved symbolically), 0 if neither, None if undecided.

        A numeric screen at a few points rules a parity out exactly where it fails (a
        witness); a surviving candidate must then be proved by sympy within a time bound.

        >>> from ncsym import zoo
        >>> zoo.tanh.parity, zoo.abs.parity, zoo.relu.parity, zoo.erf.affine_input(2).parity
        (-1, 1, 0, -1)
        """
        if self.parameters or self.deltas:
            return None
        from ncsym.core.timebound import time_limit

        f = self.mpmath()
        with mpmath.workdps(30):
            pairs = [(f(p), f(-p)) for p in (mpmath.mpf(v) for v in ("0.3183", "1.2071", "2.7183", "0.05"))]
            scale = max(max(abs(a), abs(b)) for a, b in pairs) + 1
            candidates = [sign for sign in (-1, 1)
                          if all(abs(a - sign * b) < mpmath.mpf(10) ** -25 * scale for a, b in pairs)]
        undecided = False
        for sign in candidates:
            difference = self.expr.subs(x, -x) - sign * self.expr
            try:
                with time_limit(2.0):
                    for candidate in (sympy.expand(difference), sympy.simplify(difference),
                                      sympy.simplify(difference.rewrite(sympy.exp))):
                        if candidate == 0:
                            return sign
                        if candidate.is_number and candidate.is_zero is False:
                            break  # a non-zero constant difference: exactly not this parity
                    else:
                        undecided = True
            except Exception:  # a timeout, or sympy's simplifiers failing on unusual input
                undecided = True
        return None if undecided else 0

    @cached_property
    def odd_about(self) -> sympy.Expr | None:
        """c with sigma - c odd (then c = sigma(0)), or None when that is not proved.

        >>> from ncsym import zoo
        >>> zoo.sigmoid.odd_about, zoo.tanh.odd_about, zoo.relu.odd_about
        (1/2, 0, None)
        """
        if self.parity == -1:
            return sympy.Integer(0)
        if self.parameters or self.deltas:
            return None
        at_zero = self.expr.subs(x, 0)
        if not (at_zero.is_number and at_zero.is_finite):
            return None
        return at_zero if Activation(self.expr - at_zero).parity == -1 else None

    @cached_property
    def is_polynomial_pieces(self) -> bool:
        """True when every piece is a polynomial in x (the ReLU family, step, abs, ...)."""
        return all(p.expr.is_polynomial(x) for p in self.pieces)

    # -- calculus -------------------------------------------------------------------
    def derivative(self, n: int = 1) -> "Activation":
        """The n-th distributional derivative: smooth part plus delta terms at jumps.

        >>> from ncsym import zoo
        >>> zoo.step.derivative().expr
        DiracDelta(x)
        >>> zoo.abs.derivative().pieces[0].expr
        -1
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer, sympy.Integer)) or n < 0:
            raise DomainError(f"derivative order must be a non-negative integer, got {n!r}")
        if n == 0:
            return self
        current = self
        for _ in range(int(n)):
            current = current._first_derivative()
        return current

    def _first_derivative(self) -> "Activation":
        smooth = _from_pieces([Piece(p.lo, p.hi, sympy.diff(p.expr, x)) for p in self.pieces])
        terms = [smooth]
        for point in self.breakpoints:
            size = self.jump(point)
            if size != 0:
                terms.append(size * sympy.DiracDelta(x - point))
        for d in self.deltas:
            terms.append(d.coeff * sympy.DiracDelta(x - d.point, d.order + 1))
        name = f"{self.name}'" if len(self.name) < 60 else None
        return Activation(sympy.Add(*terms), name=name)

    # -- evaluation -----------------------------------------------------------------
    def numpy(self) -> Callable[[np.ndarray], np.ndarray]:
        """A vectorized float64 callable (numpy only; erf via scipy when installed).

        >>> from ncsym import zoo
        >>> float(zoo.gelu.numpy()(np.array([1.0]))[0])
        0.8413447460685429
        """
        return self._numpy_callable

    @cached_property
    def _numpy_callable(self) -> Callable[[np.ndarray], np.ndarray]:
        self._require_function("a numpy callable")
        from ncsym.core.special import NUMPY_MODULES

        pieces = [(float(p.lo), float(p.hi), sympy.lambdify(x, p.expr, modules=NUMPY_MODULES))
                  for p in self.pieces]

        def evaluate(values: Any) -> np.ndarray:
            values = np.asarray(values, dtype=float)
            out = np.empty_like(values)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for i, (lo, hi, f) in enumerate(pieces):
                    last = i == len(pieces) - 1
                    mask = (values >= lo) & ((values <= hi) if last else (values < hi))
                    if mask.any():
                        out[mask] = np.broadcast_to(f(values[mask]), values[mask].shape)
                out[np.isnan(values)] = np.nan
            return out

        return evaluate

    def mpmath(self) -> Callable[[Any], Any]:
        """A callable on mpmath numbers at the current precision.

        >>> from ncsym import zoo
        >>> with mpmath.workdps(30):
        ...     print(zoo.erf.mpmath()(mpmath.mpf(1)))
        0.842700792949714869341220635083
        """
        return self._mpmath_callable

    @cached_property
    def _mpmath_callable(self) -> Callable[[Any], Any]:
        self._require_function("an mpmath callable")
        pieces = [(p.lo, p.hi, sympy.lambdify(x, p.expr, modules="mpmath")) for p in self.pieces]
        bounds = [mpmath.mpf(float(p.hi)) if p.hi.is_infinite else p.hi for p in self.pieces]

        def evaluate(value: Any) -> Any:
            value = mpmath.mpf(value)
            for (lo, hi, f), bound in zip(pieces, bounds):
                limit = bound if isinstance(bound, mpmath.mpf) else mpmath.mpf(sympy.N(bound, mpmath.mp.dps + 5))
                if value < limit or hi is sympy.oo:
                    return mpmath.mpf(f(value)) if not isinstance(f(value), mpmath.mpc) else f(value).real
            raise AssertionError("unreachable: the last piece extends to +oo")

        return evaluate

    def __call__(self, value: Any) -> Any:
        """sigma(value): sympy in, sympy out (text is read as an exact number); mpmath in, mpmath
        out; else numpy."""
        if isinstance(value, str):
            value = exact_number(value)
        if isinstance(value, sympy.Basic):
            return self.expr.subs(x, value)
        if isinstance(value, (mpmath.mpf, mpmath.mpc)):
            return self.mpmath()(value)
        result = self.numpy()(value)
        return float(result) if np.ndim(result) == 0 else result

    def _require_function(self, what: str) -> None:
        if self.deltas:
            raise DomainError(f"{self.name} contains Dirac deltas; it has no pointwise values for {what}")
        if self.parameters:
            names = ", ".join(sorted(str(s) for s in self.parameters))
            raise DomainError(f"{self.name} has symbolic parameters ({names}); substitute values with .subs() first")

    # -- presentation ---------------------------------------------------------------
    def latex(self) -> str:
        """LaTeX of the defining expression.

        >>> from ncsym import zoo
        >>> zoo.relu.latex()
        '\\\\max\\\\left(0, x\\\\right)'
        """
        return self._latex if self._latex is not None else sympy.latex(self.expr)

    def _repr_latex_(self) -> str:
        return rf"$\sigma(x) = {self.latex()}$"

    # -- transformations --------------------------------------------------------------
    def shifted(self, c: Any) -> "Activation":
        """sigma(x) + c.

        >>> from ncsym import zoo
        >>> zoo.relu.shifted(-1).expr
        Max(0, x) - 1
        """
        c = exact_number(c)
        return Activation(self.expr + c, name=_join(self.name, c))

    def scaled(self, c: Any) -> "Activation":
        """c * sigma(x)."""
        c = exact_number(c)
        return Activation(c * self.expr, name=f"{c}*({self.name})")

    def affine_input(self, a: Any, b: Any = 0) -> "Activation":
        """sigma(a x + b).

        >>> from ncsym import zoo
        >>> zoo.tanh.affine_input(4).expr
        tanh(4*x)
        """
        a, b = exact_number(a), exact_number(b)
        inner = a * x + b
        base = self.name if self.name.isidentifier() else f"({self.name})"
        return Activation(self.expr.subs(x, inner), name=f"{base}({sympy.sstr(inner)})")

    def _binary(self, other: Any, op: Callable, symbol: str) -> "Activation":
        if isinstance(other, Activation):
            return Activation(op(self.expr, other.expr), name=f"({self.name}) {symbol} ({other.name})")
        value = exact_number(other)
        return Activation(op(self.expr, value), name=f"({self.name}) {symbol} {value}")

    def __add__(self, other: Any) -> "Activation":
        return self._binary(other, lambda a, b: a + b, "+")

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Activation":
        return self._binary(other, lambda a, b: a - b, "-")

    def __rsub__(self, other: Any) -> "Activation":
        return (-self) + other

    def __mul__(self, other: Any) -> "Activation":
        return self._binary(other, lambda a, b: a * b, "*")

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> "Activation":
        return self._binary(other, lambda a, b: a / b, "/")

    def __neg__(self) -> "Activation":
        return Activation(-self.expr, name=f"-({self.name})")


#: The sympy functions an activation may contain: the grammar's and the zoo's, and their relatives.
SUPPORTED_FUNCTIONS = frozenset({
    sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.acos, sympy.atan,
    sympy.sinh, sympy.cosh, sympy.tanh, sympy.asinh, sympy.acosh, sympy.atanh, sympy.Abs, sympy.sign,
    sympy.Heaviside, sympy.DiracDelta, sympy.Piecewise, sympy.erf, sympy.erfc,
})
#: Expression types that are not functions of x to evaluate (unevaluated calculus, sets, ...).
_REFUSED_TYPES = (sympy.Integral, sympy.Derivative, sympy.Sum, sympy.Product, sympy.Limit, sympy.Order,
                  sympy.Subs, sympy.Set, sympy.MatrixBase)


def _substitution_value(value: Any) -> sympy.Basic:
    """A value for Activation.subs: a sympy object, a number, or text read by the parser."""
    if isinstance(value, str):
        from ncsym.symbolic.parse import parse_expression

        return parse_expression(value)
    if isinstance(value, sympy.Basic):
        return value
    return exact_number(value)


def _parse_text(text: str) -> sympy.Expr:
    from ncsym.symbolic import zoo
    from ncsym.symbolic.parse import parse_expression

    return zoo.by_name(text).expr if text in zoo.NAMES else parse_expression(text)


def _check_supported(expr: Any) -> None:
    """Refuse what no downstream routine can integrate or evaluate, before any work is done.

    >>> _check_supported(sympy.floor(x))
    Traceback (most recent call last):
    ...
    ncsym.core.errors.ActivationParseError: floor is not supported in an activation; supported functions: Abs, DiracDelta, Heaviside, Piecewise, acos, acosh, asin, asinh, atan, atanh, cos, cosh, erf, erfc, exp, log, sign, sin, sinh, tan, tanh (and Max, Min, powers)
    """
    if not isinstance(expr, sympy.Expr):
        raise ActivationParseError(f"an activation is an expression in x, got {type(expr).__name__} {expr}")
    if expr.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        raise DomainError("an activation must be finite everywhere; the expression contains an undefined or "
                          "infinite value (not a number, or an infinity)")
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, _REFUSED_TYPES):
            raise ActivationParseError(f"{type(node).__name__} is not supported in an activation: give the "
                                       "function itself (for example the evaluated integral)")
        if isinstance(node, sympy.Function) and node.func not in SUPPORTED_FUNCTIONS:
            names = ", ".join(sorted(f.__name__ for f in SUPPORTED_FUNCTIONS))
            raise ActivationParseError(f"{node.func.__name__} is not supported in an activation; supported "
                                       f"functions: {names} (and Max, Min, powers)")


def activation(spec: Any) -> Activation:
    """Build an Activation from an Activation, a sympy expression, a zoo name or a string.

    Strings go through the safe parser (:mod:`ncsym.symbolic.parse`); Python is never evaluated.

    >>> activation("relu").name
    'relu'
    >>> activation("max(x, 0) - 1/sqrt(2*pi)").expr
    Max(0, x) - sqrt(2)/(2*sqrt(pi))
    >>> activation(sympy.tanh(x)).name
    'tanh(x)'
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        from ncsym.symbolic import zoo
        from ncsym.symbolic.parse import parse_expression

        text = spec.strip()
        if text in zoo.NAMES:
            return zoo.by_name(text)
        return Activation(parse_expression(text), name=text)
    if isinstance(spec, sympy.Basic):
        return Activation(spec)
    if isinstance(spec, (int, float, Fraction, np.integer, np.floating)) and not isinstance(spec, bool):
        return Activation(exact_number(spec))
    raise ActivationParseError(
        f"cannot build an activation from {type(spec).__name__}; give an Activation, a sympy "
        "expression in x, a zoo name or an expression string"
    )


# -- decomposition into pieces and deltas -----------------------------------------------

def _sort_key(value: sympy.Expr) -> float:
    return float(value) if value.is_number else math.inf


def _one_sided(expr: sympy.Expr, point: sympy.Expr, direction: str) -> sympy.Expr:
    value = expr.subs(x, point)
    if value.has(sympy.nan, sympy.zoo) or not value.is_finite:
        value = sympy.limit(expr, x, point, direction)
    return value


def _decompose(expr: sympy.Expr) -> tuple[tuple[Piece, ...], tuple[Delta, ...]]:
    """Split an expression into smooth pieces between breakpoints and Dirac-delta terms."""
    smooth, deltas = _split_deltas(expr)
    if smooth.has(sympy.Max, sympy.Min, sympy.Abs, sympy.Heaviside, sympy.sign, sympy.Piecewise):
        folded = sympy.piecewise_fold(smooth.rewrite(sympy.Piecewise))
    else:
        folded = smooth
    if not isinstance(folded, sympy.Piecewise):
        return (Piece(-sympy.oo, sympy.oo, folded),), deltas
    try:
        pairs = folded.as_expr_set_pairs(_REAL_LINE)
    except Exception as exc:  # sympy raises several types for conditions it cannot solve
        raise ActivationParseError(f"cannot locate the breakpoints of {expr}: {exc}") from exc
    pieces = []
    for piece_expr, region in pairs:
        for interval in _intervals(region):
            if interval.measure != 0:
                pieces.append(Piece(interval.start, interval.end, piece_expr))
    pieces.sort(key=lambda p: _sort_key(p.lo) if p.lo.is_finite else -math.inf)
    pieces = _merge_equal_neighbours(pieces)
    _check_cover(pieces, expr)
    return tuple(pieces), deltas


def _intervals(region: sympy.Set) -> list[sympy.Interval]:
    if isinstance(region, sympy.Interval):
        return [region]
    if isinstance(region, sympy.Union):
        return [s for part in region.args for s in _intervals(part)]
    if isinstance(region, (sympy.FiniteSet,)) or region is sympy.S.EmptySet:
        return []
    if region == sympy.S.Reals:
        return [_REAL_LINE]
    raise ActivationParseError(f"cannot read the region {region} as intervals")


def _merge_equal_neighbours(pieces: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for piece in pieces:
        if merged and merged[-1].hi == piece.lo and sympy.simplify(merged[-1].expr - piece.expr) == 0:
            merged[-1] = Piece(merged[-1].lo, piece.hi, merged[-1].expr)
        else:
            merged.append(piece)
    return merged


def _check_cover(pieces: list[Piece], expr: sympy.Expr) -> None:
    ok = pieces and pieces[0].lo == -sympy.oo and pieces[-1].hi == sympy.oo
    ok = ok and all(a.hi == b.lo for a, b in zip(pieces, pieces[1:]))
    if not ok:
        raise ActivationParseError(f"the pieces of {expr} do not cover the real line")


def _split_deltas(expr: sympy.Expr) -> tuple[sympy.Expr, tuple[Delta, ...]]:
    if not expr.has(sympy.DiracDelta):
        return expr, ()
    smooth_terms, deltas = [], {}
    for term in sympy.Add.make_args(sympy.expand(expr)):
        factors = [f for f in sympy.Mul.make_args(term) if isinstance(f, sympy.DiracDelta)]
        if not factors:
            smooth_terms.append(term)
            continue
        if len(factors) != 1:
            raise DomainError(f"products of Dirac deltas are not distributions of one variable: {term}")
        delta = factors[0]
        order = int(delta.args[1]) if len(delta.args) > 1 else 0
        argument = delta.args[0]
        slope = sympy.diff(argument, x)
        if not slope.is_number or slope == 0:
            raise DomainError(f"unsupported Dirac delta argument in {term}")
        point = sympy.solve(argument, x)[0]
        coeff = sympy.simplify(term / delta)
        # delta^(k)(s (x - p)) = delta^(k)(x - p) / (s^k |s|)
        coeff = coeff / (slope**order * sympy.Abs(slope))
        # c(x) delta^(k)(x - p) = sum_j (-1)^j C(k, j) c^(j)(p) delta^(k-j)(x - p)
        for j in range(order + 1):
            c_j = (-1) ** j * sympy.binomial(order, j) * sympy.diff(coeff, x, j).subs(x, point)
            key = (point, order - j)
            deltas[key] = deltas.get(key, 0) + c_j
    out = tuple(Delta(p, k, sympy.simplify(c)) for (p, k), c in sorted(deltas.items(), key=lambda i: (_sort_key(i[0][0]), i[0][1])) if sympy.simplify(c) != 0)
    return sympy.Add(*smooth_terms), out


def _from_pieces(pieces: list[Piece]) -> sympy.Expr:
    if len(pieces) == 1:
        return pieces[0].expr
    branches = [(p.expr, x < p.hi) for p in pieces[:-1]] + [(pieces[-1].expr, True)]
    return sympy.Piecewise(*branches)


def _join(name: str, c: sympy.Expr) -> str:
    text = sympy.sstr(c)
    return f"{name} - {text[1:]}" if text.startswith("-") else f"{name} + {text}"
