"""Euler-Maruyama simulation of the Neural Covariance SDE (Li, Nica & Roy 2022).

:func:`simulate_sde` runs the 2x2 kernel SDE in Fisher-z and log-norm coordinates (see there);
:func:`finite_width_sde` replaces the limiting drift by the exact width-n correlation map of the
shaped ReLU.

>>> paths = simulate_sde(shaped_relu_sde(0, -1), 0.3, 1.0, n_steps=50, n_paths=200, seed=0)
>>> paths.rho.shape
(200, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from ncsym.models import sde_derivation as _d
from ncsym.models.sde_derivation import EPS, RHO, V11, V12, V22
from ncsym.symbolic.activations import exact_number
from ncsym.core.errors import DomainError, check_integer
from ncsym.core.numbers import real_float
from ncsym.models.sde import NeuralCovarianceSDE, shaped_relu_sde  # noqa: F401 (the examples use it)
from ncsym.models.sde_stability import _path_streams

__all__ = ["SDEPaths", "simulate_sde", "finite_width_sde"]


_Z = sympy.Symbol("z", real=True)
_Y1, _Y2 = sympy.symbols("y1 y2", real=True)
#: |z| beyond which the non-polynomial part of the z-drift is evaluated at the clamp: the
#: rounding of nu(tanh z) cosh(z)^2 grows like 5e-17 e^|z|, while near rho = 1 the true part
#: is below 1e-8 there and near rho = -1 it is so large that the capped step is taken anyway.
_Z_CLAMP = 20.0
#: Largest drift increment one step may take (a truncated Euler step; it only acts where
#: h |drift| > 0.5, i.e. very close to rho = -1 or on the way to a norm explosion).
_MAX_DRIFT_STEP = 0.5


@dataclass(frozen=True)
class SDEPaths:
    """Simulated paths at the requested times.

    ``rho`` is ``[n_paths, len(times)]``; ``log_norms`` is ``[n_paths, len(times), 2]`` (log V^{11},
    log V^{22}) for covariance runs, else None. Exploded paths (a norm above ``explode_at``)
    are NaN from their explosion on; ``explosion_time`` is inf for the others.
    """

    times: np.ndarray
    rho: np.ndarray
    log_norms: np.ndarray | None
    explosion_time: np.ndarray
    scheme: str
    n_steps: int
    seed_entropy: Any
    n_clipped: int = 0

    @property
    def exploded(self) -> np.ndarray:
        """Bool mask of paths that exploded before the last time."""
        return np.isfinite(self.explosion_time)


def _z_drift_expr(mu: sympy.Expr) -> sympy.Expr:
    """Drift of z = artanh(rho) for d rho = mu dt + (1 - rho^2) dB, written to evaluate stably.

    Ito: dz = [mu / (1 - rho^2) + rho] dt + dB. Terms of mu polynomial in rho are divided by
    1 - rho^2 exactly (remainder r0 + r1 rho becomes r0 cosh^2 z + r1 sinh z cosh z); the others
    are rewritten with sqrt(1 - rho^2) = sech z and acos(rho) = 2 atan(e^-z), so that nothing
    cancels catastrophically near rho = +-1. The second element is the non-polynomial part.
    """
    polynomial, other = sympy.Integer(0), sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(mu)):
        if term.is_polynomial(RHO):
            polynomial += term
        else:
            other += term
    q, r = sympy.div(sympy.Poly(polynomial, RHO), sympy.Poly(1 - RHO**2, RHO))
    r0, r1 = r.coeff_monomial(1), r.coeff_monomial(RHO)
    tanh, cosh, sinh = sympy.tanh(_Z), sympy.cosh(_Z), sympy.sinh(_Z)
    smooth = q.as_expr().subs(RHO, tanh) + r0 * cosh**2 + r1 * sinh * cosh + tanh
    rest = other.subs({sympy.acos(RHO): 2 * sympy.atan(sympy.exp(-_Z)), sympy.sqrt(1 - RHO**2): 1 / cosh})
    rest = rest.subs(RHO, tanh) * cosh**2
    if rest.has(RHO):
        raise DomainError(f"cannot rewrite the correlation drift term {other} in z = artanh(rho)")
    return smooth, rest


def _lambdify(expr: sympy.Expr, args: Sequence[sympy.Symbol]) -> Callable:
    f = sympy.lambdify(args, expr, modules="numpy")

    def call(*values):
        out = f(*values)
        return np.broadcast_to(np.asarray(out, dtype=float), np.broadcast(*values).shape)

    return call


@dataclass(frozen=True)
class _NumericModel:
    z_smooth: Callable
    z_rest: Callable
    y_drift: tuple[Callable, Callable]
    autonomous: bool
    rho_drift: Callable


def _numeric_model(sde: NeuralCovarianceSDE) -> _NumericModel:
    _d.require_symbol_free(sde.correlation_drift, {RHO, V11, V22}, "the SDE")
    _d.require_symbol_free(sympy.Add(*sde.drift), {V11, V12, V22}, "the SDE")
    if not _d.is_zero(sde.correlation_diffusion - (1 - RHO**2)):
        raise DomainError(f"the simulator expects the Wishart correlation diffusion 1 - rho^2, got {sde.correlation_diffusion}")
    for i in range(3):
        for j in range(3):
            if not _d.is_zero(sde.covariation[i, j] - _d.wishart_covariation(i, j)):
                raise DomainError("the simulator expects the Wishart covariation")
    smooth, rest = _z_drift_expr(sde.correlation_drift)
    e1, e2 = sympy.exp(_Y1), sympy.exp(_Y2)
    state = {V11: e1, V22: e2}
    y1 = _d.ito(sympy.log(V11), sde.drift, sde.covariation)[0]
    y2 = _d.ito(sympy.log(V22), sde.drift, sde.covariation)[0]
    args = (_Y1, _Y2, _Z)
    return _NumericModel(
        z_smooth=_lambdify(smooth.subs(state), args), z_rest=_lambdify(rest.subs(state), args),
        y_drift=(_lambdify(_d.at_correlation(y1).subs(RHO, sympy.tanh(_Z)).subs(state), args),
                 _lambdify(_d.at_correlation(y2).subs(RHO, sympy.tanh(_Z)).subs(state), args)),
        autonomous=sde.correlation_is_autonomous,
        rho_drift=_lambdify(sde.correlation_drift.subs(state), (_Y1, _Y2, RHO)))


def _cap(increment: np.ndarray) -> np.ndarray:
    capped = increment / np.maximum(1.0, np.abs(increment) / _MAX_DRIFT_STEP)
    # an overflowing drift (cosh^2 z far out, e^y on the way to an explosion) is a full capped step
    return np.where(np.isinf(increment), np.sign(increment) * _MAX_DRIFT_STEP, capped)


def _times(T: float, times: Any, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    T = float(T)
    if not math.isfinite(T) or T <= 0:
        raise DomainError(f"T must be a positive finite time, got {T!r}")
    wanted = np.array([T] if times is None else sorted(float(t) for t in np.atleast_1d(times)))
    if wanted[0] <= 0 or wanted[-1] > T * (1 + 1e-12):
        raise DomainError(f"times must lie in (0, T], got {wanted}")
    steps = np.rint(wanted / T * n_steps).astype(int)
    if (steps < 1).any() or not np.allclose(steps * T / n_steps, wanted, rtol=1e-9, atol=1e-12):
        raise DomainError("each requested time must be a multiple of the step T / n_steps")
    return wanted, steps


def _initial(rho0: Any, v0: Any) -> tuple[float, float, float]:
    rho0 = real_float(rho0, "rho0")
    if not -1 < rho0 < 1:
        raise DomainError(f"rho0 must lie in (-1, 1), got {rho0!r}")
    if v0 is not None and (isinstance(v0, (str, bytes)) or not hasattr(v0, "__len__")):
        raise DomainError(f"v0 must be two positive variances, got {v0!r}")
    v = (1.0, 1.0) if v0 is None else tuple(real_float(t, "v0") for t in v0)
    if len(v) != 2 or min(v) <= 0 or not all(map(math.isfinite, v)):
        raise DomainError(f"v0 must be two positive variances, got {v0!r}")
    return rho0, math.log(v[0]), math.log(v[1])


def simulate_sde(sde: NeuralCovarianceSDE, rho0: float, T: float, *, n_steps: int, n_paths: int,
                 v0: Sequence[float] | None = None, times: Any = None, seed: Any = None,
                 scheme: str = "fisher", explode_at: float = 1e12) -> SDEPaths:
    """Simulate the 2x2 covariance SDE from V_0 = [[v0_1, r], [r, v0_2]], r = rho0 sqrt(v0_1 v0_2).

    ``scheme="fisher"`` (default) steps the coordinates (log V^{11}, log V^{22}, z = artanh rho)
    with Ito-transformed drifts (derived symbolically) and the exact noise factorization
    dlog V^{aa} = rho dB_3 + dB_1 +- sqrt(1 - rho^2) dB_2, dz = dB_3 (z has additive noise,
    so Euler is Milstein there, and rho = tanh z can never leave (-1, 1)); drift increments
    are capped at 0.5 per step (truncated Euler) to tame the drift's growth near rho = -1 and
    at an explosion. ``scheme="euler"``: plain Euler-Maruyama on rho (correlation only,
    autonomous SDEs), clipped to [-1, 1] with the number of clips reported. Weak order 1 in h.

    >>> sde = shaped_relu_sde(0, -1)
    >>> paths = simulate_sde(sde, 0.3, 1.0, n_steps=200, n_paths=500, seed=0)
    >>> paths.rho.shape, paths.log_norms.shape, bool(np.all(np.abs(paths.rho) < 1))
    ((500, 1), (500, 1, 2), True)
    """
    model = _numeric_model(sde)
    n_steps, n_paths = check_integer(n_steps, "n_steps"), check_integer(n_paths, "n_paths")
    rho0, ly1, ly2 = _initial(rho0, v0)
    wanted, record = _times(T, times, n_steps)
    h = float(T) / n_steps
    sq = math.sqrt(h)
    rho_out = np.full((n_paths, len(wanted)), np.nan)
    logs_out = np.full((n_paths, len(wanted), 2), np.nan) if scheme == "fisher" else None
    explosion = np.full(n_paths, np.inf)
    clipped = 0
    limit = math.log(float(explode_at))
    if scheme == "euler" and not model.autonomous:
        raise DomainError("scheme='euler' simulates the correlation alone, which needs an autonomous rho SDE "
                          "(shaped ReLU); use scheme='fisher'")
    if scheme not in ("fisher", "euler"):
        raise DomainError(f"scheme must be 'fisher' or 'euler', got {scheme!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        for rng, part in _path_streams(seed, n_paths):
            m = part.stop - part.start
            z = np.full(m, math.atanh(rho0))
            rho = np.full(m, rho0)
            y1, y2 = np.full(m, ly1), np.full(m, ly2)
            alive = np.ones(m, dtype=bool)
            t_explode = np.full(m, np.inf)
            slot = 0
            for k in range(1, n_steps + 1):
                noise = rng.standard_normal((3, m)) * sq
                if scheme == "euler":
                    drift = model.rho_drift(y1, y2, rho)
                    rho = rho + drift * h + (1 - rho**2) * noise[2]
                    outside = np.abs(rho) > 1
                    clipped += int(outside.sum())
                    rho = np.clip(rho, -1.0, 1.0)
                else:
                    zc = np.clip(z, -_Z_CLAMP, _Z_CLAMP)
                    fz = model.z_smooth(y1, y2, z) + model.z_rest(y1, y2, zc)
                    f1, f2 = model.y_drift[0](y1, y2, z), model.y_drift[1](y1, y2, z)
                    r = np.tanh(z)
                    sech = 1.0 / np.cosh(np.clip(z, -350, 350))
                    common = r * noise[2] + noise[0]
                    y1 = np.where(alive, y1 + _cap(f1 * h) + common + sech * noise[1], y1)
                    y2 = np.where(alive, y2 + _cap(f2 * h) + common - sech * noise[1], y2)
                    z = np.where(alive, z + _cap(fz * h) + noise[2], z)
                    boom = alive & ~((y1 < limit) & (y2 < limit))
                    t_explode[boom] = k * h
                    alive &= ~boom
                    rho = np.tanh(z)
                while slot < len(record) and record[slot] == k:
                    rho_out[part, slot] = np.where(alive, rho, np.nan)
                    if logs_out is not None:
                        logs_out[part, slot, 0] = np.where(alive, y1, np.nan)
                        logs_out[part, slot, 1] = np.where(alive, y2, np.nan)
                    slot += 1
            explosion[part] = t_explode
    from ncsym.sampler import root_seed

    return SDEPaths(wanted, rho_out, logs_out, explosion, scheme, n_steps, root_seed(seed).entropy, clipped)


# --------------------------------------------------------------- finite shaped networks


def finite_width_sde(sde: NeuralCovarianceSDE, n: int) -> NeuralCovarianceSDE:
    """The shaped-ReLU SDE with the exact width-n per-layer mean drift of the correlation.

    For s_+- max/min shaping the exact correlation map is rho + (1/n) f_n nu(rho) with a
    factor f_n independent of rho (derived here from the exact kernel: f_n = 2/(s_+^2 + s_-^2)
    for c = 1/E[sigma^2]); f_n = 1 + O(1/sqrt(n)) is the leading finite-width bias of the
    limiting SDE. Returns the SDE with nu replaced by f_n nu.

    >>> sde = finite_width_sde(shaped_relu_sde(0, -1), 256)
    >>> sde.extra["finite_width_factor"]
    512/481
    """
    if sde.family != "shaped-relu" or sde.parameters:
        raise DomainError("finite_width_sde needs a shaped-ReLU SDE with numeric shaping constants")
    n = exact_number(check_integer(n, "n"))
    m = sde.extra["moments"]
    c = 1 / sde.extra["second_moment"] if sde.weight_variance == "normalized" else 1
    exact_map = (c * m[(1, 1)]).subs(EPS, 1 / sympy.sqrt(n))
    nu = sde.correlation_mean_part
    if _d.is_zero(nu):
        return replace(sde, extra=dict(sde.extra, finite_width_factor=sympy.Integer(1)))
    factor = _d.canonical(n * (exact_map - RHO) / nu)
    if factor.has(RHO):
        raise DomainError(f"the finite-width drift is not proportional to nu: ratio {factor}")
    factor = sympy.nsimplify(sympy.radsimp(factor))
    drift = (sde.drift[0], sympy.expand(factor * sde.drift[1]), sde.drift[2])
    mean_part = sympy.expand(factor * nu)
    return replace(sde, drift=drift, correlation_mean_part=mean_part,
                   correlation_drift=mean_part + sde.correlation_ito_part,
                   extra=dict(sde.extra, finite_width_factor=factor))
