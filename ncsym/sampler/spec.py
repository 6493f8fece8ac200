"""Network specifications and input validation for the sampler (numpy only)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ncsym.core.errors import DomainError, check_integer

__all__ = ["MLPSpec", "as_inputs", "numpy_activation"]

_DTYPES = {np.dtype(np.float64): "float64", np.dtype(np.float32): "float32"}


def numpy_activation(activation: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The numpy callable behind ``activation``: itself, or ``activation.numpy()``.

    Objects with a ``.numpy()`` method (such as :class:`ncsym.Activation`) are asked for
    their vectorized callable; any other callable is used as is.

    >>> f = numpy_activation(np.tanh)
    >>> float(f(np.array([0.0]))[0])
    0.0
    """
    to_numpy = getattr(activation, "numpy", None)
    if callable(to_numpy) and not isinstance(activation, np.ufunc):
        function = to_numpy()
    else:
        function = activation
    if not callable(function):
        raise DomainError(f"activation must be a numpy callable or have a .numpy() method, got {activation!r}")
    return function


def _variance(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DomainError(f"{what} must be a finite non-negative number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise DomainError(f"{what} must be a finite non-negative number, got {value!r}")
    return number


@dataclass(frozen=True)
class MLPSpec:
    """A fully connected random network with i.i.d. Gaussian weights.

    Layer ``l = 1..depth`` has preactivations ``h^l = W^l a^{l-1} + b^l`` with
    ``a^0 = x`` (the input) and ``a^l = activation(h^l)``; weights are
    ``N(0, sigma_w2 / fan_in)`` and biases ``N(0, sigma_b2)``. ``widths`` lists the
    hidden widths (an int together with ``depth`` means ``depth`` equal layers).
    ``readout`` adds layer ``depth + 1`` of that width (no activation after it).

    With ``residual_scale = s`` the hidden layers after the first are residual:
    ``h^{l+1} = h^l + s (W^{l+1} activation(h^l) + b^{l+1})`` (all hidden widths equal);
    the first layer and the readout stay plain. Shaped networks are ordinary specs with a
    shaped activation and ``sigma_w2 = c``.

    ``sigma_w2_input``, when given, is the weight variance of layer 1 alone (e.g. 1 on
    inputs of squared norm d, so that layer 1 has unit variance whatever sigma_w2 is).

    ``n_layers`` counts the layers whose preactivations can be requested (1-based).

    >>> spec = MLPSpec(input_dim=3, widths=16, depth=2, activation=np.tanh)
    >>> spec.widths, spec.n_layers, spec.layer_width(2)
    ((16, 16), 2, 16)
    >>> MLPSpec(input_dim=3, widths=[8, 4], activation=np.tanh, readout=1).n_layers
    3
    """

    input_dim: int
    widths: Sequence[int] | int
    activation: Any
    sigma_w2: float = 1.0
    sigma_b2: float = 0.0
    depth: int | None = None
    dtype: Any = np.float64
    readout: int | None = None
    residual_scale: float | None = None
    sigma_w2_input: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input_dim", check_integer(self.input_dim, "input_dim"))
        if isinstance(self.widths, numbers.Integral) and not isinstance(self.widths, bool):
            if self.depth is None:
                raise DomainError("a single width needs a depth (the number of hidden layers)")
            depth = check_integer(self.depth, "depth")
            widths = (check_integer(self.widths, "width"),) * depth
        else:
            try:
                widths = tuple(check_integer(w, f"width of hidden layer {i + 1}")
                               for i, w in enumerate(self.widths))
            except TypeError:
                raise DomainError(f"widths must be an int or a sequence of ints, got {self.widths!r}") from None
            if not widths:
                raise DomainError("widths must list at least one hidden layer")
            if self.depth is not None and self.depth != len(widths):
                raise DomainError(f"depth={self.depth} disagrees with {len(widths)} listed widths")
        set_(self, "widths", widths)
        set_(self, "depth", len(widths))
        set_(self, "sigma_w2", _variance(self.sigma_w2, "sigma_w2"))
        set_(self, "sigma_b2", _variance(self.sigma_b2, "sigma_b2"))
        if self.sigma_w2_input is not None:
            set_(self, "sigma_w2_input", _variance(self.sigma_w2_input, "sigma_w2_input"))
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise DomainError(f"dtype must be float64 or float32, got {self.dtype!r}") from None
        if dtype not in _DTYPES:
            raise DomainError(f"dtype must be float64 or float32, got {dtype}")
        set_(self, "dtype", dtype)
        if self.readout is not None:
            set_(self, "readout", check_integer(self.readout, "readout width"))
        if self.residual_scale is not None:
            scale = float(self.residual_scale)
            if not math.isfinite(scale):
                raise DomainError(f"residual_scale must be finite, got {self.residual_scale!r}")
            if len(set(widths)) != 1:
                raise DomainError(f"a residual network needs equal hidden widths, got {widths}")
            set_(self, "residual_scale", scale)
        numpy_activation(self.activation)  # fail early on a non-callable

    @property
    def n_layers(self) -> int:
        """Number of layers with preactivations: the hidden layers, plus one for a readout."""
        return self.depth + (self.readout is not None)

    def layer_width(self, layer: int) -> int:
        """Width of layer ``layer`` (1-based; ``n_layers`` is the readout when present)."""
        return self.fan_out_in(layer)[0]

    def fan_out_in(self, layer: int) -> tuple[int, int]:
        """``(fan_out, fan_in)`` of the weight matrix of ``layer`` (1-based)."""
        if not 1 <= layer <= self.n_layers:
            raise DomainError(f"layer must lie in 1..{self.n_layers}, got {layer}")
        fan_in = self.input_dim if layer == 1 else self.widths[layer - 2]
        fan_out = self.widths[layer - 1] if layer <= self.depth else self.readout
        return fan_out, fan_in

    def weight_variance(self, layer: int) -> float:
        """sigma_w^2 of ``layer``: weights are N(0, weight_variance / fan_in).

        >>> MLPSpec(2, 4, activation=np.tanh, depth=2, sigma_w2=2.0, sigma_w2_input=1.0).weight_variance(1)
        1.0
        """
        if layer == 1 and self.sigma_w2_input is not None:
            return self.sigma_w2_input
        return self.sigma_w2

    def is_residual(self, layer: int) -> bool:
        """Whether ``layer`` adds its update to the previous preactivations."""
        return self.residual_scale is not None and 2 <= layer <= self.depth

    def resolve_layers(self, layers: int | Sequence[int] | str | None) -> tuple[int, ...]:
        """Normalize a layer request to sorted 1-based indices (negative counts from the end;
        None means the last layer, ``"all"`` every layer).

        >>> spec = MLPSpec(2, 4, activation=np.tanh, depth=3)
        >>> spec.resolve_layers([-1, 1]), spec.resolve_layers("all")
        ((1, 3), (1, 2, 3))
        """
        if layers is None:
            layers = (self.n_layers,)
        elif isinstance(layers, str):
            if layers != "all":
                raise DomainError(f'layers must be ints, None or "all", got {layers!r}')
            layers = range(1, self.n_layers + 1)
        elif isinstance(layers, numbers.Integral):
            layers = (layers,)
        resolved = set()
        for layer in layers:
            if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
                raise DomainError(f"layer indices must be integers, got {layer!r}")
            index = int(layer) + self.n_layers + 1 if layer < 0 else int(layer)
            if not 1 <= index <= self.n_layers:
                raise DomainError(f"layer {layer} outside 1..{self.n_layers} (or -{self.n_layers}..-1)")
            resolved.add(index)
        if not resolved:
            raise DomainError("no layers requested")
        return tuple(sorted(resolved))


def as_inputs(spec: MLPSpec, inputs: Any) -> np.ndarray:
    """Validate inputs as a ``[P, input_dim]`` float array in the spec's dtype.

    A single input vector of length ``input_dim`` is accepted as ``P = 1``.

    >>> as_inputs(MLPSpec(2, 4, activation=np.tanh, depth=1), [1.0, 0.0]).shape
    (1, 2)
    """
    if not isinstance(spec, MLPSpec):
        raise DomainError(f"spec must be an MLPSpec, got {type(spec).__name__} {str(spec)[:40]!r}")
    try:
        array = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise DomainError("inputs must be a real array of shape [P, input_dim]") from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != spec.input_dim or array.shape[0] < 1:
        raise DomainError(f"inputs must have shape [P, {spec.input_dim}] with P >= 1, got {array.shape}")
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array).all(axis=1)))
        raise DomainError(f"inputs contain NaN or inf ({bad} of {array.shape[0]} inputs)")
    return np.ascontiguousarray(array, dtype=spec.dtype)
