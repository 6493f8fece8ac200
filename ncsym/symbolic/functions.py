"""The functions of the activation-string grammar: elementary functions, Phi/phi, max/min,
heaviside, where/piecewise and the zoo activations, each with its arity and a builder that
constructs it through the parser's guarded steps.

>>> sorted(FUNCTION_NAMES)[:4]
['Phi', 'abs', 'arctan', 'atan']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import sympy

from ncsym.symbolic import zoo
from ncsym.symbolic.activations import x
from ncsym.symbolic.tokenizer import CONSTANT_NAMES, MAX_EXPONENT, MAX_HERMITE_DEGREE, VARIABLE_NAMES

if TYPE_CHECKING:  # the parser calls the builders; they call back only its methods
    from ncsym.symbolic.grammar import _Parser, _Value

# -- the function table -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    signature: str
    build: Callable[..., Any]  # (parser, args, position) -> sympy expression
    grows: bool = False  # exponential growth: a numeric argument must be small
    raw: bool = False  # build receives _Value objects (conditions, pairs)


def _arity(function: _Function) -> str:
    low, high = function.min_args, function.max_args
    plural = lambda k: f"{k} argument" + ("" if k == 1 else "s")  # noqa: E731
    if high is None:
        return f"at least {plural(low)}"
    if low == high:
        return plural(low)
    return f"{low} to {high} arguments"


def _unknown(name: str, kind: str) -> str:
    known = sorted(FUNCTIONS) if kind == "function" else sorted(set(FUNCTIONS) | CONSTANT_NAMES | VARIABLE_NAMES)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known {kind}s: {', '.join(known)}"
    return f"unknown {kind} {name!r}{hint}"


def _elementary(function: Callable[..., sympy.Expr]) -> Callable:
    def build(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
        return parser.build(position, "the function call", function, *args)

    return build


def _sqrt(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
    return parser.power(args[0], sympy.Rational(1, 2), position)


def _Phi(u: sympy.Expr) -> sympy.Expr:
    return (1 + sympy.erf(u / sympy.sqrt(2))) / 2


def _phi(u: sympy.Expr) -> sympy.Expr:
    return sympy.exp(-u**2 / 2) / sympy.sqrt(2 * sympy.pi)


def _heaviside(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
    if len(args) == 2:
        parser.constant(args[1], "value at 0 of heaviside", position)
    return parser.build(position, "heaviside", sympy.Heaviside, *args)


def _where(parser: _Parser, args: Sequence[_Value], position: int) -> sympy.Expr:
    condition = parser.cond(args[0], "first argument of where")
    a = parser.expr(args[1], "second argument of where")
    b = parser.expr(args[2], "third argument of where")
    return _build_piecewise(parser, [(a, condition), (b, sympy.true)], position)


def _build_piecewise(parser: _Parser, branches: list[tuple[sympy.Expr, Any]], position: int) -> sympy.Expr:
    """sympy.Piecewise after joining neighbouring branches with equal values.

    sympy itself joins such branches through distribute_and_over_or, which is exponential in the
    number of branches; (v, c1), (v, c2) means (v, c1 | c2) under first-match semantics.
    """
    merged: list[tuple[sympy.Expr, Any]] = []
    for value, condition in branches:
        if merged and merged[-1][0] == value:
            joined = parser.build(position, "the joined condition", sympy.Or, merged[-1][1], condition)
            merged[-1] = (value, joined)
        else:
            merged.append((value, condition))
    return parser.build(position, "the piecewise expression", sympy.Piecewise, *merged)


def _piecewise(parser: _Parser, args: Sequence[_Value], position: int) -> sympy.Expr:
    branches = []
    for k, arg in enumerate(args):
        last = k == len(args) - 1
        if arg.kind == "pair":
            value = parser.expr(arg.obj[0], "value of a piecewise branch")
            condition = parser.cond(arg.obj[1], "condition of a piecewise branch")
            branches.append((value, condition))
        elif last and arg.kind == "expr" and k > 0:
            branches.append((arg.obj, sympy.true))
        else:
            raise parser.error("each piecewise argument is a (value, condition) pair; only the last "
                               "may be a bare default value", arg.position)
    if branches[-1][1] is not sympy.true:
        raise parser.error("piecewise must end with a (value, True) pair or a default value, so that "
                           "it is defined for every x", args[-1].position)
    return _build_piecewise(parser, branches, position)


def _zoo(name: str) -> Callable:
    """Build the zoo activation ``name`` (with constant parameters) and substitute its argument."""

    def build(parser: _Parser, args: Sequence[sympy.Expr], position: int) -> sympy.Expr:
        argument, params = args[0], list(args[1:])
        if not argument.free_symbols:
            # the zoo's exact constants (selu's, gelu_tanh's) swell into constant expressions
            # that sympy compares only very slowly; an activation at a constant is a number anyway
            raise parser.error(f"{name} needs an argument that depends on x (a zoo activation at a "
                               "constant is not supported)", position)
        for k, p in enumerate(params):
            parser.constant(p, f"parameter {k + 1} of {name}", position)
        if name in ("monomial", "hermite"):
            _order(parser, name, params[0], argument, position)
        if name == "shaped_relu":  # the width enters as sqrt(n): a root of an exact number
            parser.check_exact_power(params[2], sympy.Rational(1, 2), position)
        member = parser.build(position, f"{name}(...)", zoo.by_name, name, *params)
        if member.expr.has(sympy.Piecewise) and argument.has(sympy.Piecewise):
            # the argument would land inside the member's conditions (see the comparison rule)
            raise parser.error(f"{name} is piecewise-defined and cannot take a piecewise-defined "
                               "argument (where, piecewise, elu, selu)", position)
        return parser.build(position, f"{name}(...)", member.expr.xreplace, {x: argument})

    return build


def _order(parser: _Parser, name: str, order: sympy.Expr, argument: sympy.Expr, position: int) -> None:
    limit = MAX_HERMITE_DEGREE if name == "hermite" else MAX_EXPONENT
    if not (order.is_Integer and 0 <= order <= limit):
        raise parser.error(f"the order of {name} must be an integer from 0 to {limit}", position)
    if not argument.free_symbols:
        parser.check_exact_power(argument, order, position)


def _functions() -> dict[str, _Function]:
    table: dict[str, _Function] = {}

    def add(names: str, low: int, high: int | None, signature: str, build: Callable, **flags: bool) -> None:
        for name in names.split():
            table[name] = _Function(name, low, high, signature.replace("NAME", name), build, **flags)

    elementary = {
        "exp": sympy.exp, "log": sympy.log, "ln": sympy.log, "abs": sympy.Abs, "sign": sympy.sign,
        "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "sinh": sympy.sinh,
        "cosh": sympy.cosh, "tanh": sympy.tanh, "atan": sympy.atan, "arctan": sympy.atan,
        "erf": sympy.erf, "erfc": sympy.erfc, "Phi": _Phi, "phi": _phi,
    }
    growing = {"exp", "sinh", "cosh", "phi"}
    for name, function in elementary.items():
        add(name, 1, 1, "NAME(u)", _elementary(function), grows=name in growing)
    add("sqrt", 1, 1, "sqrt(u)", _sqrt)
    add("max", 2, None, "max(a, b, ...)", _elementary(sympy.Max))
    add("min", 2, None, "min(a, b, ...)", _elementary(sympy.Min))
    add("heaviside step", 1, 2, "NAME(u) or NAME(u, value_at_0)", _heaviside)
    add("where", 3, 3, "where(condition, value_if_true, value_otherwise)", _where, raw=True)
    add("piecewise", 1, None, "piecewise((value, condition), ..., (value, True))", _piecewise, raw=True)
    zoo_functions = {
        # name: (min args, max args, signature); all are functions of their first argument
        "relu": (1, 1, "relu(u)"), "gelu": (1, 1, "gelu(u)"), "identity": (1, 1, "identity(u)"),
        "hard_tanh": (1, 1, "hard_tanh(u)"), "gelu_tanh": (1, 1, "gelu_tanh(u)"),
        "silu": (1, 1, "silu(u)"), "selu": (1, 1, "selu(u)"), "sigmoid": (1, 1, "sigmoid(u)"),
        "softplus": (1, 1, "softplus(u)"),
        "leaky_relu": (1, 2, "leaky_relu(u, alpha=1/100)"), "elu": (1, 2, "elu(u, alpha=1)"),
        "monomial": (2, 2, "monomial(u, k)"), "hermite": (2, 2, "hermite(u, k)"),
        "shaped_relu": (4, 4, "shaped_relu(u, c_plus, c_minus, n)"),
    }
    for name, (low, high, signature) in zoo_functions.items():
        add(name, low, high, signature, _zoo(name))
    return table


FUNCTIONS: dict[str, _Function] = _functions()
#: Every function name the grammar knows.
FUNCTION_NAMES = frozenset(FUNCTIONS)

