"""LaTeX reports: the derivations of a set of activations as one compilable document.

:func:`derivation_report` writes, per activation, its definition, E[sigma] and E[sigma^2] as
derived closed forms (or values with error bounds where none exists), Hermite coefficients,
the dual kernel (closed form, or the Mehler series with its Parseval tail bound), the
correlation-map facts and the independence certificate's proof; optionally the cross-check
table. :func:`zoo_table_latex` is the one-table summary (mean, second moment, first Taylor
coefficients of the kernel, verdict). The output needs only ``amsmath`` and ``amssymb``.

>>> table = zoo_table_latex(["relu"], terms=2)
>>> r"\\frac{1}{4}" in table and table.startswith(r"\\begin{tabular}")
True
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import re

import mpmath
import sympy

from ncsym.core.errors import NoClosedFormError
from ncsym.core.results import Result, working_dps

__all__ = ["derivation_report", "zoo_table_latex", "latex_table", "latex_result", "latex_escape", "latex_text",
           "unify_numbers", "simplest"]

_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{amsmath}
\usepackage{amssymb}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\setlength{\emergencystretch}{5em}
\tolerance=2000
"""

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Text made safe for LaTeX's text mode.

    >>> latex_escape("relu(x) - 1/sqrt(2*pi) ^ x_1")
    'relu(x) - 1/sqrt(2*pi) \\\\textasciicircum{} x\\\\_1'
    """
    return "".join(_SPECIAL.get(c, c) for c in text)


#: Phrases of plain-text mathematics that the library's messages use, as LaTeX math.
_TEXT_MATH = {
    "sigma(-x) = -sigma(x)": r"$\sigma(-x) = -\sigma(x)$",
    "sigma(-x) = sigma(x)": r"$\sigma(-x) = \sigma(x)$",
    "sigma'' = 0": r"$\sigma'' = 0$",
    "E[sigma]": r"$\mathbb{E}[\sigma]$",
    "V/(n K^2)": r"$V/(n K^2)$",
    "1/n": r"$1/n$",
}
_TEXT_MATH_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_TEXT_MATH, key=len, reverse=True)))
#: A float in Python's exponent notation (1.5e-23), outside words.
_E_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)e([+-]?\d+)(?![\w.])")
#: Seconds a closed form may spend being simplified for print.
SIMPLIFY_SECONDS = 2.0


def latex_text(text: str) -> str:
    """Plain text for LaTeX's text mode: escaped, with the library's ASCII mathematics as math.

    >>> print(latex_text("odd symmetry: sigma(-x) = -sigma(x)"))
    odd symmetry: $\\sigma(-x) = -\\sigma(x)$
    >>> print(latex_text("ratio 1.5e-03 ok"))
    ratio $1.5 \\times 10^{-3}$ ok
    """
    pieces, last = [], 0
    for match in _TEXT_MATH_PATTERN.finditer(text):
        pieces += [latex_escape(text[last:match.start()]), _TEXT_MATH[match.group(0)]]
        last = match.end()
    pieces.append(latex_escape(text[last:]))
    out = "".join(pieces)
    out = out.replace(">", "$>$").replace("<", "$<$")  # OT1 text fonts have no < or >
    return _E_NUMBER.sub(lambda m: f"${_scientific(m.group(1), m.group(2))}$", out)


def unify_numbers(tex: str) -> str:
    r"""Every ``1.5e-23`` in a LaTeX document written as :math:`1.5 \times 10^{-23}` (in math mode).

    Math is tracked through ``$...$``, ``\[...\]`` and the display environments, so a number
    in text gets its own ``$``.

    >>> unify_numbers(r"$x = 2.0e-05$ and 3e+02 \begin{align*} a &= 1e-3 \end{align*}")
    '$x = 2.0 \\times 10^{-5}$ and $3 \\times 10^{2}$ \\begin{align*} a &= 1 \\times 10^{-3} \\end{align*}'
    """
    token = re.compile(r"(\\begin\{(?:align\*?|equation\*?|gather\*?)\}|\\end\{(?:align\*?|equation\*?|gather\*?)\}"
                       r"|\\\[|\\\]|(?<!\\)\$)")
    out, math, last = [], False, 0
    for match in token.finditer(tex):
        out.append(_format_numbers(tex[last:match.start()], math))
        out.append(match.group(0))
        text = match.group(0)
        math = (not math) if text == "$" else text.startswith(("\\begin", "\\["))
        last = match.end()
    out.append(_format_numbers(tex[last:], math))
    return "".join(out)


def _format_numbers(chunk: str, math: bool) -> str:
    wrap = "{}" if math else "${}$"
    return _E_NUMBER.sub(lambda m: wrap.format(_scientific(m.group(1), m.group(2))), chunk)


def _scientific(mantissa: str, exponent: str) -> str:
    """a x 10^b in LaTeX; a zero is 0 and 10^0 is left out."""
    if float(mantissa) == 0:
        return "0"
    return mantissa if int(exponent) == 0 else f"{mantissa} \\times 10^{{{int(exponent)}}}"


def simplest(expr: sympy.Expr) -> sympy.Expr:
    """The shortest of a few simplified forms of a closed form (time-bounded), for printing.

    >>> simplest((1 - 1 / sympy.pi) / 2)
    (-1 + pi)/(2*pi)
    >>> simplest(sympy.sqrt(2) / (2 * sympy.sqrt(sympy.pi)))
    sqrt(2)/(2*sqrt(pi))
    """
    from ncsym.core.timebound import time_limit

    candidates = [expr]
    try:
        with time_limit(SIMPLIFY_SECONDS):
            for step in (sympy.together, sympy.radsimp, sympy.cancel, sympy.simplify):
                try:
                    candidates.append(step(expr))
                except (TypeError, ValueError, AttributeError, NotImplementedError):
                    continue
    except TimeoutError:
        pass
    # shortest printed form; ties keep the earlier (less rewritten) one
    return min(candidates, key=lambda e: (len(sympy.latex(e)), sympy.count_ops(e)))


def latex_result(result: Result, *, exact_only: bool = False) -> str:
    """A Result in math mode: its closed form, or its value with the error bound.

    ``exact_only`` raises NoClosedFormError for a numeric result instead of printing a number.

    >>> latex_result(Result.from_exact(sympy.sqrt(2) / 2))
    '\\\\frac{\\\\sqrt{2}}{2}'
    >>> latex_result(Result.from_numeric(mpmath.mpf("0.25"), mpmath.mpf("1e-20"), method="quadrature"))
    '0.25 \\\\pm 1.0 \\\\times 10^{-20}'
    """
    if result.exact is not None:
        return sympy.latex(simplest(result.exact))
    if exact_only:
        raise NoClosedFormError(f"{result.label or 'a quantity'} has no closed form ({result.method})")
    text = result.latex()
    if result.error == 0:
        return text
    mantissa, _, exponent = mpmath.nstr(result.error, 2, min_fixed=0, max_fixed=0).partition("e")
    bound = mantissa if not exponent else rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text.split(r" \pm ")[0] + rf" \pm {bound}"


def latex_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, align: str | None = None) -> str:
    """A ``tabular`` from cells that are already LaTeX (math cells carry their own ``$``).

    >>> print(latex_table(["a", "b"], [["1", "$x$"]]))
    \\begin{tabular}{ll}
    \\hline
    a & b \\\\
    \\hline
    1 & $x$ \\\\
    \\hline
    \\end{tabular}
    """
    align = align or "l" * len(header)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\hline", " & ".join(header) + r" \\", r"\hline"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def _verdict(cert: Any) -> str:
    if cert.holds is True:
        return r"$\rho_\ell \to 0$"
    if cert.holds is None:
        return "undecided"
    if cert.limit is None:
        return "no (stays put)"
    limit = _short(cert.limit)
    return rf"no ($\rho_\ell \to \rho^* {limit if limit.startswith(chr(92) + 'approx') else '= ' + limit}$)"


def zoo_table_latex(acts: Iterable[Any] | None = None, *, terms: int = 3, dps: int | None = None) -> str:
    """A ``tabular`` of activations: E[sigma], E[sigma^2], the first Taylor coefficients
    b_n = a_n^2 of the dual kernel (n < ``terms``), and the independence verdict.

    ``acts`` defaults to a representative set of the zoo.

    >>> "tanh" in zoo_table_latex(["tanh"], terms=2)
    True
    """
    from ncsym.symbolic.activations import activation
    from ncsym.gaussian.moments import gaussian_mean, gaussian_moment
    from ncsym.kernels.dual import dual_kernel
    from ncsym.depth.independence_theorem import independence

    if acts is None:
        acts = ("relu", "abs", "step", "sign", "erf", "gelu", "tanh", "sin", "cos")
    dps = working_dps(dps)
    header = [r"$\sigma$", r"$\mathbb{E}[\sigma(z)]$", r"$\mathbb{E}[\sigma(z)^2]$"]
    header += [rf"$a_{{{n}}}^2$" for n in range(terms)] + ["verdict"]
    rows = []
    for spec in acts:
        act = activation(spec)
        cert = independence(act, dps=dps)
        mean = gaussian_mean(act, dps=dps)
        if mean.exact is None and cert.mean.exact is not None:
            mean = cert.mean
        second = gaussian_moment(act, 2, dps=dps)
        taylor = dual_kernel(act, dps=dps).taylor_coefficients(terms - 1) if terms > 0 else ()
        rows.append([f"${act.latex()}$", f"${_short(mean)}$", f"${_short(second)}$",
                     *[f"${_short(b)}$" for b in taylor], _verdict(cert)])
    # p-columns that share the line: long closed forms and values break at + and \pm instead of
    # running off the page (the column widths sum to under \linewidth with \tabcolsep = 2pt)
    share = 0.61 / (2 + max(terms, 0))
    widths = [0.14, share, share, *[share] * terms, 0.13]
    return latex_table(header, rows, align="".join(f"p{{{w:.3f}\\linewidth}}" for w in widths))


def _short(result: Result) -> str:
    """A table cell: the simplified closed form, or the value rounded to 5 digits (its bound is in
    the section); a value whose error bound reaches those digits keeps the bound."""
    if result.exact is not None:
        return sympy.latex(simplest(result.exact))
    if result.error == 0:
        return result.latex()
    if result.value != 0 and result.error < abs(result.value) * mpmath.mpf(10) ** -7:
        return rf"\approx {mpmath.nstr(result.value, 5)}"
    return latex_result(result)


def _fact(result: Result, exact_only: bool) -> str:
    """A derived fact in math mode; under ``exact_only`` one without a closed form says so."""
    if exact_only and result.exact is None:
        return r"\text{(no closed form)}"
    return latex_result(result)


def _fixed_points_latex(points: Sequence[Any], exact_only: bool) -> str:
    return ", ".join(rf"${_fact(fp.value, exact_only)}$ ({fp.stability}, $C' = {_fact(fp.slope, exact_only)}$)"
                     for fp in points)


def _section(spec: Any, *, dps: int, terms: int, exact_only: bool, crosscheck_options: dict | None) -> str:
    from ncsym.symbolic.activations import activation
    from ncsym.hermite_series.coefficients import parseval_tail
    from ncsym.kernels.dual import dual_kernel
    from ncsym.depth.independence_theorem import independence
    from ncsym.gaussian.moments import gaussian_mean, gaussian_moment
    from ncsym.hermite_series.coefficients import hermite_coefficients

    act = activation(spec)
    method = "exact" if exact_only else "auto"
    show = lambda r: latex_result(r, exact_only=exact_only)  # noqa: E731
    cert = independence(act, dps=dps)
    # An exact zero by symmetry (from the certificate) beats a numeric zero from quadrature.
    mean = cert.mean if cert.mean.exact is not None else gaussian_mean(act, method=method, dps=dps)
    second = gaussian_moment(act, 2, method=method, dps=dps)
    hermite = hermite_coefficients(act, terms, method=method, dps=dps)
    kernel = dual_kernel(act, dps=dps)
    cmap = cert.correlation_map

    heading = latex_escape(act.name) if act.name.isidentifier() else rf"$\sigma(x) = {act.latex()}$"
    parts = [rf"\section{{{heading}}}",
             r"\begin{align*}",
             rf"\sigma(x) &= {act.latex()}, \\",
             rf"\mathbb{{E}}[\sigma(z)] &= {show(mean)}, \\",
             rf"\mathbb{{E}}[\sigma(z)^2] &= {show(second)}.",
             r"\end{align*}",
             rf"Methods: mean by {latex_text(mean.method)}; second moment by {latex_text(second.method)}.",
             r"\subsection*{Hermite coefficients}",
             r"$a_n = \mathbb{E}[\sigma(z)\,\mathrm{He}_n(z)]/\sqrt{n!}$:",
             r"\begin{align*}"]
    parts.append(" \\\\\n".join(rf"a_{{{n}}} &= {show(a)}" for n, a in enumerate(hermite)))
    parts.append(r"\end{align*}")
    parts.append(r"\subsection*{Dual kernel}")
    if kernel.closed_form is not None:
        parts += ["Closed form, with $\\rho$ the correlation of two unit-variance inputs:",
                  r"\begin{equation*}", kernel.latex(), r"\end{equation*}"]
    elif exact_only:
        raise NoClosedFormError(f"the dual kernel of {act.name} has no closed form")
    else:
        tail = parseval_tail(act, terms, dps=dps)
        parts += ["No closed form is known; the kernel is the Mehler series",
                  r"\begin{equation*}", kernel.latex(), r"\end{equation*}",
                  rf"with $a_0, \dots, a_{{{terms}}}$ as above. Truncating after $n = {terms}$ errs by at most "
                  rf"the Parseval tail $\mathbb{{E}}[\sigma^2] - \sum_{{n \le {terms}}} a_n^2 = {show(tail)}$ "
                  r"for every $|\rho| \le 1$."]
    parts.append(r"\subsection*{Correlation map}")
    parts += [r"With natural hyperparameters ($\sigma_b^2 = 0$, $\sigma_w^2 = 1/\mathbb{E}[\sigma^2]$):",
              r"\begin{equation*}", cmap.latex(), r"\end{equation*}",
              rf"$C(0) = {_fact(cmap.value_at_zero, exact_only)}$, $C'(0) = {_fact(cmap.slope_at_zero, exact_only)}$, "
              rf"$C'(1) = {_fact(cmap.slope_at_one, exact_only)}$. "
              rf"Fixed points on $[-1, 1]$: {_fixed_points_latex(cmap.fixed_points(dps), exact_only)}."]
    parts += [r"\subsection*{Zero-mean independence}", _text_math(cert.latex())]
    if crosscheck_options is not None:
        from ncsym.checks.layerwise import crosscheck

        check = crosscheck(act, **crosscheck_options)
        parts += [r"\subsection*{Cross-check against sampled networks}",
                  rf"Width {check.width}, depth {check.depth}, {check.networks} networks, seed "
                  rf"{latex_escape(str(check.seed))}; $z$ is the deviation from theory plus the predicted "
                  r"$O(1/n)$ bias in standard errors.",
                  r"\begin{center}", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}", check.latex(), r"\end{center}",
                  rf"Verdict: {latex_text(check.verdict)}."]
    return "\n".join(parts)


def derivation_report(acts: Iterable[Any], *, dps: int | None = None, terms: int = 6,
                      include_crosscheck: bool = False, crosscheck_options: dict | None = None,
                      exact_only: bool = False, title: str = "Derivations for wide random networks",
                      zoo_table: bool = True) -> str:
    """A complete LaTeX document (article class) deriving each activation in ``acts``.

    ``crosscheck_options`` go to :func:`ncsym.crosscheck` (default: small sizes) when
    ``include_crosscheck``; ``exact_only`` raises NoClosedFormError rather than print a number
    where a closed form was asked for. ``zoo_table`` adds the summary table at the top.

    >>> doc = derivation_report(["relu"], terms=2)
    >>> doc.startswith(r"\\documentclass") and doc.rstrip().endswith(r"\\end{document}")
    True
    >>> r"\\frac{\\sqrt{2}}{2 \\sqrt{\\pi}}" in doc
    True
    """
    from ncsym.core.errors import DomainError

    specs = list(acts)
    if not specs:
        raise DomainError("derivation_report needs at least one activation")
    if isinstance(terms, bool) or not isinstance(terms, int) or terms < 0:
        raise DomainError(f"terms must be a non-negative integer, got {terms!r}")
    dps = working_dps(dps)
    options = None
    if include_crosscheck:
        options = {"depth": 4, "width": 64, "networks": 200, "seed": 0}
        options.update(crosscheck_options or {})
    with mpmath.workdps(dps):
        sections = [_section(spec, dps=dps, terms=terms, exact_only=exact_only, crosscheck_options=options)
                    for spec in specs]
        table = zoo_table_latex(specs, terms=min(terms + 1, 3), dps=dps) if zoo_table and not exact_only else None
    body = [_PREAMBLE, rf"\title{{{latex_escape(title)}}}", r"\date{}", r"\begin{document}", r"\maketitle"]
    body.append(r"Every formula below is derived: closed forms are exact, and every number carries a rigorous or "
                r"estimated error bound ($\pm$) together with the method that produced it. "
                r"Here $z \sim \mathcal{N}(0, 1)$ and $\mathrm{He}_n$ are the probabilists' Hermite polynomials.")
    if table is not None:
        body += [r"\section*{Summary}", r"\begin{center}", r"\footnotesize", r"\setlength{\tabcolsep}{2pt}", table,
                 r"\end{center}"]
    body += sections
    body.append(r"\end{document}")
    return unify_numbers("\n".join(body) + "\n")


def _text_math(tex: str) -> str:
    """The library's plain-text mathematics inside a LaTeX paragraph, as math (text parts only)."""
    for phrase in ("sigma(-x) = -sigma(x)", "sigma(-x) = sigma(x)", "sigma'' = 0"):
        tex = tex.replace(phrase, _TEXT_MATH[phrase])
    return tex
