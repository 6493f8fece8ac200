"""Tests of the safe activation-string parser (ncsym.symbolic.parse).

Parsed expressions are compared with hand-built sympy expressions by sympy.simplify, and the
Activations built from them with numpy/scipy formulas written out independently. The fuzz
tests throw well over 10,000 generated strings (random text, token soup, mutated valid
expressions, hostile Python, absurd powers) at the parser while eval, exec, compile, open,
dangerous imports, os.system, subprocess and sympy's string parser are booby-trapped: any
exception other than ActivationParseError, any trap sprung, or any slow call fails the test.
Set NCSYM_PARSE_FUZZ_SCALE=k to run k times as many examples.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import erf as scipy_erf
from scipy.stats import norm

import ncsym
from ncsym import zoo
from ncsym.symbolic import parse
from ncsym.symbolic.activations import exact_number, x
from ncsym.core.errors import ActivationParseError
from ncsym.symbolic.parse import parse_expression

SCALE = int(os.environ.get("NCSYM_PARSE_FUZZ_SCALE", "1"))
#: A single parse slower than this counts as a hang (generous: CI machines are shared).
SLOW_CALL_SECONDS = 8.0


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    return sympy.simplify(a - b) == 0


# -- the issue's examples ------------------------------------------------------------------------

ISSUE_EXAMPLES = {
    "max(x, 0) - 1/sqrt(2*pi)": sympy.Max(x, 0) - 1 / sympy.sqrt(2 * sympy.pi),
    "x*(1 + erf(x/sqrt(2)))/2": x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2,
    "tanh(4*x)": sympy.tanh(4 * x),
    "where(x > 0, x, exp(x) - 1)": sympy.Piecewise((x, x > 0), (sympy.exp(x) - 1, True)),
}


@pytest.mark.parametrize("text", sorted(ISSUE_EXAMPLES))
def test_issue_examples_parse_to_the_hand_built_expression(text):
    parsed = parse_expression(text)
    assert parsed.free_symbols <= {x}
    assert same(parsed, ISSUE_EXAMPLES[text])


POINTS = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.75])
NUMPY_REFERENCES = {
    "max(x, 0) - 1/sqrt(2*pi)": ((0,), lambda v: np.maximum(v, 0) - 1 / math.sqrt(2 * math.pi)),
    "x*(1 + erf(x/sqrt(2)))/2": ((), lambda v: v * norm.cdf(v)),
    "tanh(4*x)": ((), lambda v: np.tanh(4 * v)),
    "where(x > 0, x, exp(x) - 1)": ((0,), lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0)))),
}


@pytest.mark.parametrize("text", sorted(NUMPY_REFERENCES))
def test_issue_examples_as_activations(text):
    breakpoints, reference = NUMPY_REFERENCES[text]
    act = ncsym.activation(text)
    assert act.breakpoints == breakpoints
    np.testing.assert_allclose(act.numpy()(POINTS), reference(POINTS), rtol=1e-13, atol=1e-15)


def test_piecewise_syntax_and_default_branch():
    three = ncsym.activation("piecewise((x, x > 1), (0, x > -1), (-1, True))")
    assert three.breakpoints == (-1, 1)
    np.testing.assert_array_equal(three.numpy()(np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 3.0])
    default = parse_expression("piecewise((x, x > 0), exp(x) - 1)")
    assert same(default, ISSUE_EXAMPLES["where(x > 0, x, exp(x) - 1)"])
    assert parse_expression("piecewise((x, x > 0), (exp(x) - 1, otherwise))") == default


def test_compound_conditions():
    window = ncsym.activation("where(0 < x <= 1 or x > 2 & x < 3, 1, 0)")
    assert window.breakpoints == (0, 1, 2, 3)
    values = window.numpy()(np.array([-0.5, 0.5, 1.5, 2.5, 3.5]))
    np.testing.assert_array_equal(values, [0, 1, 0, 1, 0])
    negated = ncsym.activation("where(not x > 0, x^2, 0)")
    np.testing.assert_array_equal(negated.numpy()(np.array([-2.0, 2.0])), [4.0, 0.0])


# -- numbers, precedence, names -------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("0.1", sympy.Rational(1, 10)),
    ("0.5", sympy.Rational(1, 2)),
    ("1e-3", sympy.Rational(1, 1000)),
    ("2.5E2", sympy.Integer(250)),
    (".25", sympy.Rational(1, 4)),
    ("3.", sympy.Integer(3)),
    ("1.5e+1", sympy.Integer(15)),
    ("0.30000000000000004", sympy.Rational(30000000000000004, 10**17)),
    ("1/sqrt(2*pi)", 1 / sympy.sqrt(2 * sympy.pi)),
    ("e", sympy.E),
    ("E^2", sympy.exp(2)),
])
def test_numbers_are_read_exactly(text, value):
    parsed = parse_expression(text, allow_variable=False)
    assert parsed == value
    assert not parsed.atoms(sympy.Float)


def test_exact_number_reads_strings_through_the_parser():
    assert exact_number("1/sqrt(2*pi)") == 1 / sympy.sqrt(2 * sympy.pi)
    assert zoo.leaky_relu("0.1") == zoo.leaky_relu(sympy.Rational(1, 10))
    with pytest.raises(ActivationParseError, match="constant is required"):
        exact_number("x + 1")


@pytest.mark.parametrize("text, expected", [
    ("-x^2", -x**2),
    ("-2^2", sympy.Integer(-4)),
    ("2^3^2", sympy.Integer(512)),
    ("2**3**2", sympy.Integer(512)),
    ("2^-1", sympy.Rational(1, 2)),
    ("8/2/2", sympy.Integer(2)),
    ("x - 1 - 1", x - 2),
    ("2*-x", -2 * x),
    ("(1 + x)*(1 - x)", (1 + x) * (1 - x)),
    ("+x", x),
    ("x^x", x**x),
])
def test_precedence_and_associativity_follow_python(text, expected):
    assert same(parse_expression(text), expected)


def test_other_variable_names_are_renamed_to_x():
    assert parse_expression("tanh(t)") == sympy.tanh(x)
    assert parse_expression("z^2 + 1") == x**2 + 1
    assert parse_expression("tanh(t)").free_symbols == {x}


@pytest.mark.parametrize("text, expected", [
    ("Phi(x)", (1 + sympy.erf(x / sympy.sqrt(2))) / 2),
    ("phi(x)", sympy.exp(-x**2 / 2) / sympy.sqrt(2 * sympy.pi)),
    ("sigmoid(x)", 1 / (1 + sympy.exp(-x))),
    ("softplus(x)", sympy.log(1 + sympy.exp(x))),
    ("heaviside(x) + step(x - 1)", sympy.Heaviside(x) + sympy.Heaviside(x - 1)),
    ("abs(x) + sign(x)", sympy.Abs(x) + sympy.sign(x)),
    ("atan(x) - arctan(x)", sympy.Integer(0)),
    ("sinh(x) + cosh(x) - exp(x)", sympy.Integer(0)),
    ("erf(x) + erfc(x)", sympy.erf(x) + sympy.erfc(x)),
    ("log(exp(2)) + ln(1)", sympy.Integer(2)),
    ("max(x, 0, 1)", sympy.Max(x, 1)),
    ("min(x, -x, 2)", sympy.Min(x, -x, 2)),
    ("sin(x)^2 + cos(x)^2 + tan(0)", sympy.Integer(1)),
])
def test_whitelisted_functions(text, expected):
    assert same(parse_expression(text), expected)


def test_Phi_and_phi_agree_with_scipy():
    cdf = ncsym.activation("Phi(x)").numpy()
    pdf = ncsym.activation("phi(x)").numpy()
    np.testing.assert_allclose(cdf(POINTS), norm.cdf(POINTS), rtol=1e-14)
    np.testing.assert_allclose(pdf(POINTS), norm.pdf(POINTS), rtol=1e-14)


@pytest.mark.parametrize("text, expected", [
    ("relu(x) - 1/sqrt(2*pi)", zoo.relu.expr - 1 / sympy.sqrt(2 * sympy.pi)),
    ("relu(2*x - 1)", sympy.Max(2 * x - 1, 0)),
    ("gelu(x)", x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2),
    ("silu(x)", x / (1 + sympy.exp(-x))),
    ("leaky_relu(x, 0.2)", sympy.Max(x, 0) + sympy.Min(x, 0) / 5),
    ("leaky_relu(x)", sympy.Max(x, 0) + sympy.Min(x, 0) / 100),
    ("elu(3*x, 2)", sympy.Piecewise((3 * x, x > 0), (2 * (sympy.exp(3 * x) - 1), True))),
    ("hard_tanh(x)", sympy.Max(-1, sympy.Min(1, x))),
    ("selu(x)", zoo.selu.expr),
    ("gelu_tanh(x)", zoo.gelu_tanh.expr),
    ("identity(x) + monomial(x, 3)", x + x**3),
    ("hermite(x, 2)", (x**2 - 1) / sympy.sqrt(2)),
    ("shaped_relu(x, 1, -1, 4)", sympy.Rational(3, 2) * sympy.Max(x, 0) + sympy.Min(x, 0) / 2),
])
def test_zoo_names_are_functions_of_an_argument(text, expected):
    assert same(parse_expression(text), expected)


def test_elu_string_matches_zoo_elu_numerically():
    parsed = ncsym.activation("where(x > 0, x, exp(x) - 1)")
    np.testing.assert_allclose(parsed.numpy()(POINTS), zoo.elu().numpy()(POINTS), rtol=1e-15)
    gelu = ncsym.activation("x*Phi(x)").numpy()(POINTS)
    np.testing.assert_allclose(gelu, POINTS * (1 + scipy_erf(POINTS / math.sqrt(2))) / 2, rtol=1e-14)


# -- rejections ------------------------------------------------------------------------------------

REJECTIONS = [
    # (text, words the message must contain, position of the problem or None)
    ("foo(x)", "unknown function 'foo'", 0),
    ("x + bar", "unknown name 'bar'", 4),
    ("Max(x, 0)", "did you mean max", 0),
    ("x.real", "attribute", 1),
    ("().__class__", "attribute", 2),
    ("__import__('os').system('ls')", "dunder", 0),
    ("x + __class__", "dunder", 4),
    ("_private", "dunder", 0),
    ("lambda x", "lambda", 0),
    ("lambda: 0", "no lambdas", 6),
    ("open('f')", "string literals", 5),
    ('"x"', "string literals", 0),
    ("x[0]", "brackets", 1),
    ("{x}", "braces", 0),
    ("1, 2", "unexpected ','", 1),
    ("(x, 1)", "comma outside a function call", 0),
    ("max(x, y=0)", "keyword arguments", 8),
    ("x = 1", "no assignments", 2),
    ("(x + 1", "unbalanced '('", 0),
    ("x + 1)", "unbalanced ')'", 5),
    ("", "empty expression", 0),
    ("   ", "empty expression", 3),
    ("x + t", "more than one free variable", 4),
    ("x*y", "more than one free variable", 2),
    ("x > 0", "comparisons belong inside where", 0),
    ("where(x, 1, 0)", "must be a condition", 6),
    ("exp(x, 1)", "exp takes 1 argument, got 2", 0),
    ("max(x)", "at least 2 arguments", 0),
    ("where(x > 0, 1)", "where takes 3 arguments", 0),
    ("leaky_relu(x, 1, 2)", "1 to 2 arguments", 0),
    ("hermite(x)", "hermite takes 2 arguments", 0),
    ("exp", "exp is a function", 0),
    ("piecewise((x, x > 0))", "defined for every x", 10),
    ("piecewise(x, (1, x > 0))", "(value, condition) pair", 10),
    ("2x", "run straight into a name", 1),
    ("0x1F", "run straight into a name", 1),
    ("x @ x", "'@'", 2),
    ("x == 0", "equality", 2),
    ("x // 2", "floor division", 2),
    ("x; 1", "single expression", 1),
    ("x # c", "comments", 2),
    ("x if x > 0 else 0", "where(condition, a, b)", 2),
    ("x\N{ZERO WIDTH SPACE}", "non-ASCII", 1),
    ("\N{FULLWIDTH LATIN SMALL LETTER X}", "non-ASCII", 0),
    ("\N{MATHEMATICAL BOLD SMALL X}", "non-ASCII", 0),
    ("e\N{COMBINING ACUTE ACCENT}", "non-ASCII", 1),
    ("x\x00", "control character", 1),
    ("1/0", "division by zero", 1),
    ("log(0)", "undefined or infinite", 0),
    ("sqrt(-1)", "not real", 0),
    ("(-8)^(1/3)", "not real", 4),
    ("x + log(-2)", "not real", 4),
    ("where((1 + (-8)^(1/3))^1000 > 0, 1, 0)", "not real", 15),
    ("10**10**10", "power too large", 2),
    ("9**9**9", "power too large", 1),
    ("2^(10^6)", "power too large", 1),
    ("(1 + 1e-50)^(10^9)", "power too large", 11),
    ("x^(10^9)", "exponent too large", 1),
    ("1e400", "300 digits", 0),
    ("1e-400", "300 digits", 0),
    ("1e200*1e200", "300 digits", 5),
    ("exp(exp(10))", "argument of exp is too large", 4),
    ("exp(900)*exp(900)*exp(900)", "constant too large", 17),
    ("sqrt(1e40 + 7)*sqrt(1e40 + 9)", "roots of exact numbers", 15),
    ("78219^(-1/1000)", "fractional power", 5),
    ("where(1 <= erf(39054), x, 0)", "cannot decide the constant comparison", 8),
    ("where(elu(x) > 0, 1, 0)", "piecewise-defined", 13),
    ("elu(where(x > 1, x, 0))", "piecewise-defined argument", 0),
    ("hermite(x, 10^6)", "order of hermite", 0),
    ("x + relu(2)", "depends on x", 4),
    ("shaped_relu(-gelu_tanh(-selu(pi)), 3E2, -10, 1e-30)", "depends on x", 24),
    ("monomial(x, 1/2)", "order of monomial", 0),
    ("shaped_relu(x, 1, -1, x)", "must be a constant", 0),
    ("shaped_relu(x, 1, -1, -4)", "positive width", 0),
]


@pytest.mark.parametrize("text, words, position", REJECTIONS)
def test_each_rejection_names_the_problem_and_its_position(text, words, position):
    started = time.perf_counter()
    with pytest.raises(ActivationParseError) as caught:
        parse_expression(text)
    assert time.perf_counter() - started < SLOW_CALL_SECONDS
    message = str(caught.value)
    assert words in message
    assert f"at position {position}" in message
    assert caught.value.position == position


def test_limits_on_size_and_nesting():
    with pytest.raises(ActivationParseError, match="too long"):
        parse_expression("x" + "+x" * parse.MAX_LENGTH)
    with pytest.raises(ActivationParseError, match="too many tokens"):
        parse_expression("+".join(["1"] * 600))
    with pytest.raises(ActivationParseError, match="parentheses nested deeper"):
        parse_expression("(" * 150 + "x" + ")" * 150)
    with pytest.raises(ActivationParseError, match="nested deeper"):
        parse_expression("-" * 500 + "x")
    with pytest.raises(ActivationParseError, match="nested deeper"):
        parse_expression("x^" * 300 + "2")
    with pytest.raises(ActivationParseError, match="nested deeper"):
        parse_expression("exp(" * 120 + "x" + ")" * 120)
    with pytest.raises(ActivationParseError, match="comparisons and boolean operators"):
        parse_expression("where(" + " and ".join(["x > 0"] * 80) + ", 1, 0)")
    # just inside the limits everything still works
    assert parse_expression("(" * 90 + "x" + ")" * 90) == x
    assert parse_expression("x^1000") == x**1000
    assert parse_expression("10^300") == sympy.Integer(10)**300


@pytest.mark.parametrize("value", [None, 1, 0.5, b"x", ["x"], sympy.Symbol("x")])
def test_non_string_input_is_rejected(value):
    with pytest.raises(ActivationParseError, match="expected an expression string"):
        parse_expression(value)


def test_constants_only_where_a_constant_is_required():
    assert parse_expression("1/sqrt(2*pi)", allow_variable=False) == 1 / sympy.sqrt(2 * sympy.pi)
    with pytest.raises(ActivationParseError, match="constant is required.*'x'"):
        parse_expression("2*x", allow_variable=False)
    with pytest.raises(ActivationParseError, match="constant is required.*'t'"):
        parse_expression("t", allow_variable=False)


def test_the_parser_source_never_evaluates_text():
    """No call of eval/exec/compile/__import__/sympify/parse_expr/getattr anywhere in ncsym.symbolic.parse."""
    tree = ast.parse(inspect.getsource(parse))
    forbidden = {"eval", "exec", "__import__", "sympify", "parse_expr", "getattr", "setattr", "S",
                 "Symbol", "symbols", "lambdify", "import_module"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                name = func.id
                assert name not in forbidden | {"compile"}, f"ncsym.symbolic.parse calls {name} at line {node.lineno}"
            elif isinstance(func, ast.Attribute):
                name = func.attr
                assert name not in forbidden, f"ncsym.symbolic.parse calls .{name} at line {node.lineno}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert "parsing" not in (module or ""), f"ncsym.symbolic.parse imports {module}"


# -- fuzzing ---------------------------------------------------------------------------------------

class Tripped(BaseException):
    """Raised by a booby trap; a BaseException so that no `except Exception` can swallow it."""


_DANGEROUS_MODULES = {"os", "subprocess", "shutil", "socket", "ctypes", "pickle", "importlib", "pty",
                      "code", "codeop", "runpy", "webbrowser", "urllib", "http", "multiprocessing"}
#: Callers whose exec runs no user text: sympy's polynomial code compiles its own monomial
#: helpers, and the import system executes the code of modules sympy loads lazily (imports
#: themselves are screened by guarded_import).
_TRUSTED_EXEC_CALLERS = {"sympy.polys.monomials", "importlib._bootstrap", "importlib._bootstrap_external"}


class Traps:
    """Replace everything that could run user text or touch the system with a trap that trips."""

    def __init__(self):
        import sympy.parsing.sympy_parser as sympy_parser

        sympify_module = sys.modules["sympy.core.sympify"]  # the package attribute is the function
        real_import = builtins.__import__
        real_sympify = sympify_module.sympify

        def trap(name, real=None):
            def sprung(*args, **kwargs):
                caller = sys._getframe(1).f_globals.get("__name__", "")
                if real is not None and caller in _TRUSTED_EXEC_CALLERS:
                    return real(*args, **kwargs)
                raise Tripped(f"{name} called from {caller} with {args!r:.200}")
            return sprung

        def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
            if level == 0 and name.split(".")[0] in _DANGEROUS_MODULES:
                raise Tripped(f"import of {name}")
            return real_import(name, globals, locals, fromlist, level)

        def guarded_sympify(a, *args, **kwargs):
            if isinstance(a, str):
                raise Tripped(f"sympify of the string {a!r:.200}")
            return real_sympify(a, *args, **kwargs)

        self.replacements = [
            (builtins, "eval", trap("eval")), (builtins, "exec", trap("exec", builtins.exec)),
            (builtins, "compile", trap("compile")), (builtins, "open", trap("open")),
            (builtins, "__import__", guarded_import),
            (os, "system", trap("os.system")), (os, "popen", trap("os.popen")),
            (subprocess, "Popen", trap("subprocess.Popen")),
            (sympy_parser, "parse_expr", trap("parse_expr")),
            (sympy_parser, "eval_expr", trap("eval_expr")),
            (sympify_module, "sympify", guarded_sympify), (sympy, "sympify", guarded_sympify),
        ]
        self.saved = []

    def __enter__(self):
        self.saved = [(owner, name, getattr(owner, name)) for owner, name, _ in self.replacements]
        for owner, name, replacement in self.replacements:
            setattr(owner, name, replacement)
        return self

    def __exit__(self, *exc_info):
        for owner, name, original in self.saved:
            setattr(owner, name, original)
        return False


TRAPS = Traps()


def test_the_traps_work():
    """The fuzz tests below can fail: a string sympify, an eval or an import of os trips them."""
    for attempt in (lambda: sympy.sympify("1 + 1"), lambda: eval("1"),  # noqa: S307
                    lambda: __import__("os"), lambda: sympy.parsing.sympy_parser.parse_expr("x")):
        with pytest.raises(Tripped):
            with TRAPS:
                attempt()
    assert eval("1") == 1  # noqa: S307 - restored afterwards
    assert sympy.sympify("2") == 2


#: Strings checked by each fuzz test (filled as they run).
CHECKED: dict[str, int] = {}


def check_parse(text: str, allow_variable: bool = True, *, tally: str = "other") -> None:
    """Parse under the traps: either an exact real expression in x or an ActivationParseError."""
    CHECKED[tally] = CHECKED.get(tally, 0) + 1
    started = time.perf_counter()
    try:
        with TRAPS:
            result = parse_expression(text, allow_variable=allow_variable)
    except ActivationParseError as error:
        assert str(error)
        return
    finally:
        elapsed = time.perf_counter() - started
        assert elapsed < SLOW_CALL_SECONDS, f"parsing {text!r} took {elapsed:.1f} s"
    assert isinstance(result, sympy.Expr)
    assert result.free_symbols <= ({x} if allow_variable else set())
    assert not result.atoms(sympy.Float)
    assert not result.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo)


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = sorted(parse.FUNCTION_NAMES) + sorted(parse.CONSTANT_NAMES) + ["x", "t", "y", "True", "and",
                                                                         "or", "not", "otherwise"]
HOSTILE_NAMES = ["__import__", "__class__", "__builtins__", "__subclasses__", "eval", "exec", "open",
                 "compile", "globals", "locals", "getattr", "lambda", "import", "os", "system",
                 "sympify", "Symbol", "S", "Integer", "factorial", "yield", "await", "print"]
OPERATORS = ["+", "-", "*", "/", "^", "**", "(", ")", ",", "<", "<=", ">", ">=", "&", "|", ".", "=",
             "==", "[", "]", "{", "}", ":", ";", "'", '"', "@", "%", "~", "!", "\\", "#", "`"]
LITERALS = ["0", "1", "2", "0.1", ".5", "1.", "1e-3", "3E2", "1e300", "1e-300", "1e301", "9" * 40,
            "10", "1000", "1001", "0.30000000000000004", "123456789", "7"]
TOKENS = NAMES + HOSTILE_NAMES + OPERATORS + LITERALS + [
    " ", "\t", "\n", "\N{GREEK SMALL LETTER PI}", "\N{FULLWIDTH LATIN SMALL LETTER X}", "\x00"]

HOSTILE = [
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__.__mro__",
    "lambda: 0", "lambda x: x", "(lambda: 0)()",
    "open('f')", "open('/etc/passwd').read()", "exec('import os')", "eval('1+1')",
    "compile('1', '', 'eval')", "globals()", "locals()", "vars()", "dir()", "getattr(x, 'real')",
    "sympify('x')", "Symbol('x')", "S('x')", "Integer(1)", "import os", "x; import os",
    "x\n__import__('os')", "f'{x}'", "b'x'", "r'x'", "[x for x in ()]", "{1: 2}", "x if 1 else 0",
    "(yield)", "await x", "(x := 1)", "*x", "**x", "x(1)", "sin(x)(x)", "(x)(x)", "1()",
    "exp(x)(2)", "x.real", "pi.evalf()", "e.__class__", "print(1)", "__builtins__",
    "x\\\n+1", "# comment", "x # comment", "'''x'''", "max(*[x])", "max(**{})", "sin(x, y=1)",
    "9**9**9**9", "10**10**10", "2^2^2^2^2^2", "(10^300)^(10^300)", "factorial(10^6)", "x**-10**10",
    "x**(10**10)", "(x+1)**(10**300)", "(1/3)**(10**6)", "sqrt(2)**(10**9)", "exp(exp(exp(exp(x))))",
    "exp(10^300)", "sin(exp(exp(100)))", "max(exp(exp(exp(100))), 5)", "abs(exp(1000)*exp(1000))",
    "(2^(1/2))^(2^1000)", "2^(1/10^300)", "(78219)**(-1e-3)", "78219^(999/1000)", "(10^300+1)^(1/3)", "(10^299+7)^(1/2)",
    "sqrt(1e20+3)*sqrt(1e20+7)*sqrt(1e20+9)*sqrt(1e20+13)", "exp(999)^1000", "pi^(10^300)",
    "hermite(x, 100)", "hermite(1e300, 100)", "monomial(1e300, 1000)", "monomial(x, 1000)",
    "where(x > exp(exp(10)), 1, 0)", "sign(exp(999) - exp(999) + 1)", "tan(pi/2)", "1/(pi - pi)",
    "log(-1)", "(-1)^(1/2)", "(1 + (-8)^(1/3))^1000 > 0", "max((2 + (-1)^(1/3))^900, 1)", "0^0", "0^(-1)", "x/(x - x)", "where(elu(x) > 0, 1, 0)",
    "piecewise(" + ", ".join(f"(1, {k} < x <= {k + 1} | x > {k + 50})" for k in range(12)) + ", (0, True))",
    "where(" + " and ".join(f"(x < {k} or x > {k + 1})" for k in range(20)) + ", 1, 0)",
    "(" * 101 + "x" + ")" * 101, "-" * 999 + "x", "x^" * 400 + "x", "exp(" * 150 + "x" + ")" * 150,
    "x+" * 999 + "x", "1" * 3000, "(" * 2001, "\x00", "\u202ex", "x\u200b",
    "\N{FULLWIDTH LATIN SMALL LETTER X}", "\N{MATHEMATICAL BOLD SMALL X}",
    "\N{DOUBLE-STRUCK ITALIC SMALL E}", "x\u0301", "\ufeffx",
    "\N{FULLWIDTH LEFT PARENTHESIS}x\N{FULLWIDTH RIGHT PARENTHESIS}", "x\N{NO-BREAK SPACE}+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_rejected_or_harmless(text):
    check_parse(text)
    check_parse(text, allow_variable=False)


_UNARY = sorted(name for name, f in parse.FUNCTIONS.items() if f.min_args == 1 and not f.raw)
_COMPARISONS = ["<", "<=", ">", ">="]


def random_expression(rng: random.Random, depth: int = 0) -> str:
    """A syntactically valid expression: numbers of all sizes, every construct of the grammar."""
    if depth > 3 or rng.random() < 0.25:
        roll = rng.random()
        if roll < 0.4:
            return rng.choice(["x", "x", "t", "pi", "e", "E"])
        if roll < 0.7:
            return str(rng.randrange(0, 10**rng.randrange(1, 13)))
        return rng.choice(LITERALS)
    sub = lambda: random_expression(rng, depth + 1)  # noqa: E731
    kind = rng.randrange(9)
    if kind == 0:
        return f"({sub()}) {rng.choice(['+', '-', '*', '/'])} ({sub()})"
    if kind == 1:
        return f"({sub()}){rng.choice(['^', '**'])}({sub()})"
    if kind == 2:
        return f"{rng.choice(_UNARY)}({sub()})"
    if kind == 3:
        return f"{rng.choice(['max', 'min'])}({', '.join(sub() for _ in range(rng.randrange(2, 4)))})"
    if kind == 4:
        return f"-{sub()}"
    if kind == 5:
        return f"where({random_condition(rng, depth)}, {sub()}, {sub()})"
    if kind == 6:
        branches = [f"({sub()}, {random_condition(rng, depth)})" for _ in range(rng.randrange(1, 4))]
        last = rng.choice([f"({sub()}, True)", sub(), f"({sub()}, otherwise)"])
        return f"piecewise({', '.join(branches)}, {last})"
    if kind == 7:
        name = rng.choice(["leaky_relu", "elu", "monomial", "hermite"])
        return f"{name}({sub()}, {rng.choice(LITERALS + ['2', '3', '0.2'])})"
    return f"shaped_relu({sub()}, {rng.choice(LITERALS)}, -{rng.choice(LITERALS)}, {rng.choice(LITERALS)})"


def random_condition(rng: random.Random, depth: int) -> str:
    sub = lambda: random_expression(rng, depth + 2)  # noqa: E731
    roll = rng.random()
    if roll < 0.5:
        return f"{sub()} {rng.choice(_COMPARISONS)} {sub()}"
    if roll < 0.7:
        return f"{sub()} {rng.choice(['<', '<='])} {sub()} {rng.choice(['<', '<='])} {sub()}"
    if roll < 0.9:
        joint = rng.choice([" and ", " or ", " & ", " | "])
        return f"({random_condition(rng, depth + 1)}){joint}({random_condition(rng, depth + 1)})"
    return f"not {random_condition(rng, depth + 1)}"


def random_mutation(rng: random.Random, text: str) -> str:
    """Delete, insert, replace or duplicate pieces of the text."""
    for _ in range(rng.randrange(1, 5)):
        k = rng.randrange(len(text) + 1)
        kind = rng.randrange(4)
        if kind == 0:
            text = text[:k] + text[k + rng.randrange(1, 4):]
        elif kind == 1:
            text = text[:k] + rng.choice(TOKENS) + text[k:]
        elif kind == 2:
            text = text[:k] + rng.choice(TOKENS) + text[k + 1:]
        else:
            text = text[:k] + text[k:k + 12] * rng.randrange(2, 5) + text[k + 12:]
    return text


SEEDS = st.integers(0, 2**64 - 1)


@settings(max_examples=800 * SCALE, **FUZZ)
@given(st.lists(st.text(max_size=60), min_size=5, max_size=5), st.booleans())
def test_fuzz_random_text(texts, allow_variable):
    for text in texts:
        check_parse(text, allow_variable, tally="text")


@settings(max_examples=700 * SCALE, **FUZZ)
@given(SEEDS)
def test_fuzz_token_soup(seed):
    rng = random.Random(seed)
    for _ in range(5):
        tokens = [rng.choice(TOKENS) for _ in range(rng.randrange(0, 25))]
        check_parse(rng.choice(["", " "]).join(tokens), rng.random() < 0.8, tally="tokens")


@settings(max_examples=350 * SCALE, **FUZZ)
@given(SEEDS)
def test_fuzz_valid_and_mutated_expressions(seed):
    rng = random.Random(seed)
    text = random_expression(rng)
    check_parse(text, tally="grammar")
    for _ in range(3):
        check_parse(random_mutation(rng, text), tally="grammar")


@settings(max_examples=400 * SCALE, **FUZZ)
@given(st.sampled_from(HOSTILE), st.sampled_from(HOSTILE), st.sampled_from(["", "+", "*", ",", " ", "("]),
       SEEDS)
def test_fuzz_hostile_python(first, second, joint, seed):
    rng = random.Random(seed)
    combined = first + joint + second
    check_parse(combined, tally="hostile")
    check_parse(random_mutation(rng, first), tally="hostile")
    check_parse(random_mutation(rng, combined), tally="hostile")


@settings(max_examples=250 * SCALE, **FUZZ)
@given(st.lists(st.one_of(st.integers(-10**12, 10**12).map(str), st.sampled_from(LITERALS + ["x", "e", "pi"])),
                min_size=2, max_size=5),
       st.sampled_from(["^", "**"]), st.sampled_from(["{}", "sqrt({})", "exp({})", "({})^(1/3)", "x*{}", "-{}"]))
def test_fuzz_huge_powers(numbers, operator, wrapper):
    text = wrapper.format(operator.join(f"({n})" for n in numbers))
    check_parse(text, tally="powers")
    check_parse(text, allow_variable=False, tally="powers")


def test_fuzz_volume():
    """Runs after the fuzz tests: together they checked at least 10,000 generated strings."""
    expected = {"text", "tokens", "grammar", "hostile", "powers"}
    if not expected <= set(CHECKED):
        pytest.skip("runs only together with every fuzz test")
    assert sum(CHECKED[k] for k in expected) >= 10_000
