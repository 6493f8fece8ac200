"""The empirical neural tangent kernel of sampled networks, from exact Jacobians (numpy only).

For the preactivations ``z^L_i`` of layer ``L`` of one network, the NTK is

    Theta_ij(a, b) = sum over parameters theta of  d z^L_i(a)/d theta  d z^L_j(b)/d theta

in the NTK parametrization: the weights of layer ``l`` are ``sqrt(c_w^l / fan_in) omega`` and
the biases ``sqrt(sigma_b^2) beta`` with ``omega, beta`` standard normal, and the derivatives
are taken in ``omega`` and ``beta``, each layer's term scaled by a learning rate. With the
default rates (``weight_rate = c_w^l``, ``bias_rate = sigma_b^2``) its infinite-width mean is
the recursion Theta^(1) = K^(1), Theta^(l+1) = K^(l+1) + sigma_w^2 <sigma'(u) sigma'(v)> Theta^(l)
of Jacot, Gabriel & Hongler (2018) (``ncsym.ntk_kernel``); other rates give the
learning-rate tensor lambda_b, lambda_W of Roberts, Yaida & Hanin (2022), chapters 7-8.

Exact backpropagation, batched over networks: with ``J^l = d z^L / d z^l`` (``J^L`` the
identity on the requested units, ``J^l = J^(l+1) W^(l+1) diag(sigma'(z^l))``),

    Theta(a, b) = sum_l J^l(a) J^l(b)^T [bias_rate_l + weight_rate_l / fan_in_l a^(l-1)(a) . a^(l-1)(b)],

with ``a^0 = x``. Cost: O(networks * inputs * units * sum_l n_l n_(l-1)).
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ncsym.core.errors import DomainError, NonFiniteError, check_integer
from .networks import NetworkWeights, sample_weights
from .spec import MLPSpec, as_inputs, numpy_activation

__all__ = ["activation_derivative", "empirical_ntk", "iter_ntk"]

_CHUNK_ELEMENTS = 2**22  # floats in the largest per-chunk Jacobian (32 MB), about


def activation_derivative(spec: MLPSpec, derivative: Any = None) -> Callable[[np.ndarray], np.ndarray]:
    """The numpy derivative of the spec's activation: ``derivative`` itself, or the
    activation's own ``.derivative()`` (an :class:`ncsym.Activation` has one).

    Kinks are fine (relu' is the step; the kink is hit with probability 0); a derivative
    with a delta mass (a step activation) has no pointwise values and is refused.

    >>> spec = MLPSpec(2, 4, activation=np.tanh, depth=1)
    >>> d = activation_derivative(spec, lambda h: 1 - np.tanh(h) ** 2)
    >>> float(d(np.array([0.0]))[0])
    1.0
    """
    if derivative is None:
        make = getattr(spec.activation, "derivative", None)
        if not callable(make) or isinstance(spec.activation, np.ufunc):
            raise DomainError("the NTK needs the activation's derivative: pass derivative=<numpy callable> "
                              "(or use an ncsym.Activation, which has .derivative())")
        try:
            derivative = make()
        except Exception as error:  # an Activation refuses a delta part, whatever its class
            raise DomainError(f"the activation's derivative has no pointwise values: {error}") from None
    try:
        return numpy_activation(derivative)
    except DomainError:
        raise
    except Exception as error:
        raise DomainError(f"the activation's derivative has no pointwise values: {error}") from None


def _rates(spec: MLPSpec, rate: Any, default: Callable[[int], float], what: str, top: int) -> list[float]:
    if rate is None:
        return [default(l) for l in range(1, top + 1)]
    if isinstance(rate, numbers.Real):
        values = [float(rate)] * top
    else:
        values = [float(r) for r in rate]
        if len(values) < top:
            raise DomainError(f"{what} lists {len(values)} rates for {top} layers")
    if not all(np.isfinite(v) and v >= 0 for v in values[:top]):
        raise DomainError(f"{what} must be finite and non-negative, got {rate!r}")
    return values[:top]


def _call(function, h: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        out = np.asarray(function(h), dtype=np.float64)
    return np.broadcast_to(out, h.shape) if out.shape != h.shape else out


def empirical_ntk(weights: NetworkWeights, inputs: Any, *, layer: int | None = None,
                  units: int | Sequence[int] | None = None, derivative: Any = None, cross_units: bool = False,
                  weight_rate: Any = None, bias_rate: Any = None) -> np.ndarray:
    """The exact NTK of layer ``layer`` (default the last) of fixed networks on inputs.

    ``units`` picks output units of that layer (an int k means the first k; default all).
    Returns ``[networks, units, P, P]``, the diagonal Theta_ii(a, b); with
    ``cross_units=True`` the whole block ``[networks, units, units, P, P]``.
    ``weight_rate``/``bias_rate``: one number or one per layer (defaults: the layer's
    weight variance and sigma_b^2). Computed in float64 whatever the spec's dtype.

    >>> spec = MLPSpec(2, 16, activation=np.tanh, depth=2, sigma_w2=1.5)
    >>> w = sample_weights(spec, 3, seed=0)
    >>> theta = empirical_ntk(w, np.eye(2), derivative=lambda h: 1 - np.tanh(h) ** 2)
    >>> theta.shape, bool(np.allclose(theta, theta.transpose(0, 1, 3, 2)))
    ((3, 16, 2, 2), True)
    """
    spec = weights.spec
    X = np.asarray(as_inputs(spec, inputs), dtype=np.float64)
    top = spec.n_layers if layer is None else spec.resolve_layers(layer)[0]
    if any(spec.is_residual(l) for l in range(1, top + 1)):
        raise DomainError("empirical_ntk supports plain (non-residual) networks only")
    width = spec.layer_width(top)
    if units is None:
        chosen = np.arange(width)
    elif isinstance(units, numbers.Integral):
        chosen = np.arange(check_integer(units, "units", 1, width))
    else:
        chosen = np.asarray(list(units), dtype=np.int64)
        if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= width:
            raise DomainError(f"units must be indices in 0..{width - 1}, got {units!r}")
    w_rates = _rates(spec, weight_rate, spec.weight_variance, "weight_rate", top)
    b_rates = _rates(spec, bias_rate, lambda l: spec.sigma_b2, "bias_rate", top)
    function = numpy_activation(spec.activation)
    slope = activation_derivative(spec, derivative)

    # Forward: a^(l-1) entering each layer and sigma'(z^l) below the top.
    m, P = weights.n_networks, X.shape[0]
    inputs_to = [np.broadcast_to(X, (m,) + X.shape)]
    slopes = []
    h = None
    for l in range(1, top + 1):
        w = weights.weights[l - 1].astype(np.float64, copy=False)
        b = weights.biases[l - 1]
        h = np.matmul(inputs_to[-1], w.transpose(0, 2, 1))
        if b is not None:
            h = h + b.astype(np.float64, copy=False)[:, None, :]
        if l < top:
            inputs_to.append(_call(function, h))
            slopes.append(_call(slope, h))
    if not all(np.isfinite(a).all() for a in inputs_to[1:] + slopes) or not np.isfinite(h).all():
        raise NonFiniteError("empirical_ntk: inf or NaN in the forward pass (activation overflowing?)")

    def layer_factor(l: int) -> np.ndarray:
        """[m, P, P]: bias_rate + weight_rate / fan_in a^(l-1)(a) . a^(l-1)(b)."""
        a = inputs_to[l - 1]
        return b_rates[l - 1] + (w_rates[l - 1] / a.shape[2]) * np.matmul(a, a.transpose(0, 2, 1))

    u = chosen.size
    eye = np.eye(u)
    if cross_units:
        theta = eye[None, :, :, None, None] * layer_factor(top)[:, None, None, :, :]
    else:
        theta = np.broadcast_to(layer_factor(top)[:, None, :, :], (m, u, P, P)).copy()
    # J^l(a): [m, P, u, n_l]; at the top it is the selection of the chosen units.
    jac = np.broadcast_to(weights.weights[top - 1].astype(np.float64, copy=False)[:, None, chosen, :], (m, P, u, spec.fan_out_in(top)[1]))
    for l in range(top - 1, 0, -1):
        jac = jac * slopes[l - 1][:, :, None, :]  # J^l = J^(l+1) W^(l+1) diag(sigma'(z^l))
        factor = layer_factor(l)
        if cross_units:
            theta += np.einsum("mpik,mqjk->mijpq", jac, jac) * factor[:, None, None, :, :]
        else:
            per_unit = jac.transpose(0, 2, 1, 3)  # [m, u, P, n_l]
            theta += np.matmul(per_unit, per_unit.transpose(0, 1, 3, 2)) * factor[:, None, :, :]
        if l > 1:
            # [m, P*u, n_l] @ [m, n_l, n_(l-1)]: one batched BLAS product per network (a
            # broadcast [m, 1, n, n] operand takes numpy's slow path)
            jac = np.matmul(jac.reshape(m, P * u, -1), weights.weights[l - 1].astype(np.float64, copy=False)).reshape(m, P, u, -1)
    return theta


def iter_ntk(spec: MLPSpec, inputs: Any, n_networks: int, *, seed: Any = None, layer: int | None = None,
             units: int | Sequence[int] | None = None, derivative: Any = None, chunk_size: int | None = None,
             **rates: Any) -> Iterator[tuple[int, np.ndarray]]:
    """Stream the empirical NTK of networks drawn from ``seed``: yields ``(first, theta)``.

    ``theta`` is ``[m, units, P, P]`` for networks ``first .. first + m - 1`` of the seeded
    sequence (the weights of :func:`ncsym.sampler.sample_weights`, so the networks do not
    depend on ``chunk_size``). ``rates``: ``weight_rate``, ``bias_rate`` of :func:`empirical_ntk`.

    >>> spec = MLPSpec(1, 8, activation=np.tanh, depth=2)
    >>> d = lambda h: 1 - np.tanh(h) ** 2
    >>> [(first, t.shape) for first, t in iter_ntk(spec, [[1.0]], 5, seed=0, units=2, derivative=d, chunk_size=2)]
    [(0, (2, 2, 1, 1)), (2, (2, 2, 1, 1)), (4, (1, 2, 1, 1))]
    """
    n_networks = check_integer(n_networks, "n_networks", 1)
    unknown = set(rates) - {"weight_rate", "bias_rate"}
    if unknown:
        raise DomainError(f"unknown options {sorted(unknown)}")
    X = as_inputs(spec, inputs)
    activation_derivative(spec, derivative)  # fail before sampling
    if chunk_size is None:
        top = spec.n_layers if layer is None else spec.resolve_layers(layer)[0]
        u = spec.layer_width(top) if units is None else (units if isinstance(units, numbers.Integral) else len(units))
        widest = max(spec.fan_out_in(l)[1] for l in range(1, top + 1))
        per_network = X.shape[0] * u * widest + sum(o * i for o, i in (spec.fan_out_in(l) for l in range(1, top + 1)))
        chunk_size = max(1, _CHUNK_ELEMENTS // per_network)
    chunk_size = check_integer(chunk_size, "chunk_size", 1)
    for first in range(0, n_networks, chunk_size):
        w = sample_weights(spec, min(chunk_size, n_networks - first), seed, start=first)
        yield first, empirical_ntk(w, X, layer=layer, units=units, derivative=derivative, **rates)
