"""Weight-space and Gram-space sampling of random fully connected networks (numpy only).

Randomness is organised in fixed blocks of ``block_size`` networks: block ``k`` of layer
``l`` draws from its own stream ``SeedSequence(seed).spawn_key + (method tag, k, l)``, so
every network's samples depend only on (seed, spec, method, block_size, inputs) and never
on ``chunk_size`` (how many networks are vectorized together) or on how a run is split
with ``start``. Chunks are always whole blocks; networks outside the requested range are
computed and dropped (at most two partial blocks per call).
"""

from __future__ import annotations

import math
import numbers
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ncsym.core.errors import DomainError, NonFiniteError, NonFiniteWarning, check_integer
from .linalg import psd_factor
from .spec import MLPSpec, as_inputs, numpy_activation
from .stats import PreactivationStatistics

__all__ = [
    "METHODS",
    "NetworkWeights",
    "root_seed",
    "block_generator",
    "default_block_size",
    "sample_weights",
    "forward",
    "forward_chunks",
    "iter_preactivations",
    "sample_preactivations",
    "sample_weight_space",
    "sample_gram_space",
    "network_statistics",
]

METHODS = ("gram", "weights")
_TAG = {"weights": 0, "gram": 1}
_BLOCK_ELEMENTS = 2**20  # normals one block draws per layer, at most (8 MB in float64)
_CHUNK_ELEMENTS = 2**21  # elements of the largest per-chunk temporary, about
_NONFINITE = ("raise", "warn")


def root_seed(seed: Any = None) -> np.random.SeedSequence:
    """The root ``SeedSequence`` of a run from an int, a SeedSequence, a Generator or None.

    A Generator is advanced once to draw fresh entropy; None takes entropy from the OS
    (not reproducible; ``root_seed(None).entropy`` can be stored to repeat a run).

    >>> root_seed(7).entropy
    7
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise DomainError(f"seed must be a non-negative int, a SeedSequence, a Generator or None, got {seed!r}")


def block_generator(seed: Any, purpose: int, block: int, *key: int) -> np.random.Generator:
    """The random stream of block ``block`` for ``purpose`` (and any further ``key``).

    The samplers use purpose 0 (weights) and 1 (Gram-space noise) with key ``(layer,)``;
    other samplers built on this scheme (weight-shared, recurrent) take purposes >= 2, so a
    network's randomness depends only on the seed and its block, never on chunking.

    >>> a = block_generator(5, 2, 0).standard_normal(3)
    >>> bool(np.array_equal(a, block_generator(5, 2, 0).standard_normal(3)))
    True
    """
    root = root_seed(seed)
    spawn_key = tuple(root.spawn_key) + (purpose, block) + tuple(key)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=spawn_key)))


def _stream(root: np.random.SeedSequence, method: str, block: int, layer: int) -> np.random.Generator:
    return block_generator(root, _TAG[method], block, layer)


def _per_network_draws(spec: MLPSpec, method: str, n_inputs: int) -> int:
    sizes = [spec.fan_out_in(l) for l in range(1, spec.n_layers + 1)]
    if method == "weights":
        return max(o * i + o for o, i in sizes)
    return max(o for o, _ in sizes) * n_inputs


def default_block_size(spec: MLPSpec, method: str = "gram", n_inputs: int = 1) -> int:
    """Networks per random stream: the largest power of two <= 4096 whose block draws at most
    2^20 normals per layer. Part of the reproducibility key (with seed, spec and method).

    >>> spec = MLPSpec(2, 1024, activation=np.tanh, depth=3)
    >>> default_block_size(spec, "weights"), default_block_size(spec, "gram", n_inputs=2)
    (1, 512)
    """
    _check_method(method)
    per_network = _per_network_draws(spec, method, n_inputs)
    size = 4096
    while size > 1 and size * per_network > _BLOCK_ELEMENTS:
        size //= 2
    return size


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise DomainError(f"method must be one of {METHODS}, got {method!r}")


def _activate(function, h: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        out = np.asarray(function(h))
    if out.shape != h.shape:
        out = np.broadcast_to(out, h.shape)
    return np.asarray(out, dtype=dtype)


def _nonfinite_networks(array: np.ndarray) -> np.ndarray:
    return ~np.isfinite(array).reshape(array.shape[0], -1).all(axis=1)


# ---------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class NetworkWeights:
    """Drawn weights of ``n_networks`` networks of one spec.

    ``weights[l - 1]`` has shape ``[n_networks, fan_out, fan_in]`` (already scaled by
    sqrt(spec.weight_variance(l) / fan_in)); ``biases[l - 1]`` is ``[n_networks, fan_out]`` or None when
    ``sigma_b2 == 0``. ``start`` is the index of the first network in the seeded sequence.
    """

    spec: MLPSpec
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]
    start: int = 0

    @property
    def n_networks(self) -> int:
        return self.weights[0].shape[0]

    def subset(self, networks: slice) -> "NetworkWeights":
        """The weights of a contiguous slice of the networks (views, no copy)."""
        first = range(self.n_networks)[networks]
        if first.step != 1:
            raise DomainError("subset takes a contiguous slice of networks")
        return NetworkWeights(self.spec, tuple(w[networks] for w in self.weights),
                              tuple(None if b is None else b[networks] for b in self.biases),
                              self.start + (first.start if len(first) else 0))


def _draw_layer(spec: MLPSpec, root, layer: int, blocks: range, block_size: int):
    fan_out, fan_in = spec.fan_out_in(layer)
    count = len(blocks) * block_size
    weights = np.empty((count, fan_out, fan_in), dtype=spec.dtype)
    biases = np.empty((count, fan_out), dtype=spec.dtype) if spec.sigma_b2 > 0 else None
    for i, block in enumerate(blocks):
        rng = _stream(root, "weights", block, layer)
        part = slice(i * block_size, (i + 1) * block_size)
        rng.standard_normal(dtype=spec.dtype, out=weights[part])
        if biases is not None:
            rng.standard_normal(dtype=spec.dtype, out=biases[part])
    weights *= spec.dtype.type(math.sqrt(spec.weight_variance(layer) / fan_in))
    if biases is not None:
        biases *= spec.dtype.type(math.sqrt(spec.sigma_b2))
    return weights, biases


def _block_range(start: int, n_networks: int, block_size: int) -> range:
    return range(start // block_size, -(-(start + n_networks) // block_size))


def sample_weights(spec: MLPSpec, n_networks: int, seed: Any = None, *, start: int = 0,
                   block_size: int | None = None) -> NetworkWeights:
    """Draw the weights of networks ``start .. start + n_networks - 1`` of a seeded sequence.

    These are exactly the weights the weight-space sampler uses for the same seed and
    block size, so ``forward(sample_weights(spec, n, seed), X)`` reproduces
    ``sample_weight_space(spec, X, n, seed=seed)``. Memory is
    ``n_networks * sum(fan_out * fan_in)`` numbers.

    >>> spec = MLPSpec(3, 4, activation=np.tanh, depth=2, sigma_b2=0.1)
    >>> w = sample_weights(spec, 5, seed=1)
    >>> w.weights[0].shape, w.weights[1].shape, w.biases[1].shape
    ((5, 4, 3), (5, 4, 4), (5, 4))
    """
    n_networks = check_integer(n_networks, "n_networks", 1)
    start = check_integer(start, "start", 0)
    block_size = default_block_size(spec, "weights") if block_size is None else check_integer(block_size, "block_size", 1)
    root = root_seed(seed)
    blocks = _block_range(start, n_networks, block_size)
    keep = slice(start - blocks.start * block_size, start - blocks.start * block_size + n_networks)
    weights, biases = [], []
    for layer in range(1, spec.n_layers + 1):
        w, b = _draw_layer(spec, root, layer, blocks, block_size)
        weights.append(np.ascontiguousarray(w[keep]))
        biases.append(None if b is None else np.ascontiguousarray(b[keep]))
    return NetworkWeights(spec, tuple(weights), tuple(biases), start)


def _weight_step(spec, layer, previous_h, activation_in, weights, biases):
    update = np.matmul(activation_in, weights.transpose(0, 2, 1))
    if biases is not None:
        update += biases[:, None, :]
    if spec.is_residual(layer):
        return previous_h + spec.dtype.type(spec.residual_scale) * update
    return update


def forward_chunks(weights: NetworkWeights, inputs: Any, *, layers: int | Sequence[int] | str | None = None,
                   input_chunk: int | None = None,
                   ) -> Iterator[tuple[slice, dict[int, np.ndarray], np.ndarray]]:
    """Run fixed networks over inputs chunk by chunk: yields ``(input_slice, {layer: h}, nonfinite)``.

    ``h`` has shape ``[n_networks, len(input_slice), width]``. Meant for very many inputs
    (2^20 Boolean points) where only a reduction of the outputs is kept. Non-finite values
    are passed through and flagged: ``nonfinite`` is a bool mask ``[n_networks]`` of
    networks with inf/NaN in any layer up to the last requested one, on this chunk's inputs
    (``forward`` screens it; callers of this generator must). The input chunk changes only rounding
    (BLAS picks kernels by shape); one chunk of all inputs matches the weight-space sampler
    bit for bit.

    >>> spec = MLPSpec(2, 8, activation=np.tanh, depth=1, readout=1)
    >>> w = sample_weights(spec, 3, seed=0)
    >>> [(s.start, h[2].shape, bool(bad.any())) for s, h, bad in forward_chunks(w, np.eye(2), input_chunk=1)]
    [(0, (3, 1, 1), False), (1, (3, 1, 1), False)]
    """
    spec = weights.spec
    X = as_inputs(spec, inputs)
    wanted = spec.resolve_layers(layers)
    function = numpy_activation(spec.activation)
    n_inputs = X.shape[0]
    if input_chunk is None:
        per_input = weights.n_networks * max(spec.fan_out_in(l)[0] for l in range(1, spec.n_layers + 1))
        input_chunk = max(1, _CHUNK_ELEMENTS // per_input)
    input_chunk = check_integer(input_chunk, "input_chunk", 1)
    for first in range(0, n_inputs, input_chunk):
        part = slice(first, min(first + input_chunk, n_inputs))
        a, h, out = X[part], None, {}
        bad = np.zeros(weights.n_networks, dtype=bool)
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in range(1, wanted[-1] + 1):
                if layer > 1:
                    a = _activate(function, h, spec.dtype)
                    bad |= _nonfinite_networks(a)
                h = _weight_step(spec, layer, h, a, weights.weights[layer - 1], weights.biases[layer - 1])
                bad |= _nonfinite_networks(h)
                if layer in wanted:
                    out[layer] = h
        yield part, out, bad


def forward(weights: NetworkWeights, inputs: Any, *, layers: int | Sequence[int] | str | None = None,
            input_chunk: int | None = None, nonfinite: str = "raise") -> dict[int, np.ndarray]:
    """Preactivations of fixed networks on inputs: ``{layer: [n_networks, P, width]}``.

    Computed in chunks of inputs (``input_chunk``) so intermediate layers stay small.
    ``nonfinite="raise"`` (default) raises :class:`NonFiniteError` on inf/NaN,
    ``"warn"`` returns them with a :class:`NonFiniteWarning`.

    >>> spec = MLPSpec(2, 8, activation=np.tanh, depth=2)
    >>> h = forward(sample_weights(spec, 4, seed=0), np.eye(2), layers=[1, 2])
    >>> h[1].shape, h[2].shape
    ((4, 2, 8), (4, 2, 8))
    """
    _check_policy(nonfinite)
    spec = weights.spec
    X = as_inputs(spec, inputs)
    wanted = spec.resolve_layers(layers)
    out = {l: np.empty((weights.n_networks, X.shape[0], spec.layer_width(l)), dtype=spec.dtype) for l in wanted}
    bad = np.zeros(weights.n_networks, dtype=bool)
    for part, chunk, chunk_bad in forward_chunks(weights, X, layers=wanted, input_chunk=input_chunk):
        for layer, h in chunk.items():
            out[layer][:, part] = h
        bad |= chunk_bad
    _report_nonfinite(bad, nonfinite, spec, "forward")
    return out


# ------------------------------------------------------------------------ sampling


def _check_policy(nonfinite: str) -> None:
    if nonfinite not in _NONFINITE:
        raise DomainError(f"nonfinite must be one of {_NONFINITE}, got {nonfinite!r}")


def _report_nonfinite(bad: np.ndarray, policy: str, spec: MLPSpec, where: str, layer: int | None = None,
                      action: str = "returned as is") -> None:
    count = int(np.count_nonzero(bad))
    if count == 0:
        return
    at = f" from layer {layer} on" if layer is not None else ""
    message = (f"{where}: {count} of {bad.size} networks produced inf or NaN preactivations{at} "
               f"(activation {getattr(spec.activation, '__name__', spec.activation)!s} overflowing? "
               f"sigma_w2={spec.sigma_w2}, sigma_b2={spec.sigma_b2})")
    if policy == "raise":
        raise NonFiniteError(message)
    warnings.warn(f"{message}; {action}", NonFiniteWarning, stacklevel=3)


class _Progress:
    """A tqdm bar that appears once a run is projected to take more than ``delay`` seconds."""

    def __init__(self, total: int, enabled: bool | None, delay: float = 2.0, label: str = "networks"):
        self.total, self.done, self.label, self.delay = total, 0, label, delay
        self.started = time.perf_counter()
        self.bar = None
        self.allowed = bool(enabled) if enabled is not None else _stderr_is_terminal()
        self.forced = enabled is True

    def advance(self, count: int) -> None:
        self.done += count
        if not self.allowed:
            return
        if self.bar is None:
            elapsed = time.perf_counter() - self.started
            projected = elapsed * self.total / max(self.done, 1)
            if not self.forced and projected < self.delay:
                return
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.allowed = False
                return
            self.bar = tqdm(total=self.total, initial=self.done - count, unit=" " + self.label,
                            unit_scale=True, leave=False)
        self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _draw_gram_layer(spec, root, layer, blocks, block_size, n_inputs) -> np.ndarray:
    fan_out, _ = spec.fan_out_in(layer)
    noise = np.empty((len(blocks) * block_size, fan_out, n_inputs), dtype=spec.dtype)
    for i, block in enumerate(blocks):
        _stream(root, "gram", block, layer).standard_normal(
            dtype=spec.dtype, out=noise[i * block_size:(i + 1) * block_size])
    return noise


def _gram_factor(spec: MLPSpec, activation_in: np.ndarray, fan_in: int, layer: int) -> np.ndarray:
    a = np.asarray(activation_in, dtype=np.float64)
    gram = np.matmul(a, np.swapaxes(a, -1, -2)) * (spec.weight_variance(layer) / fan_in) + spec.sigma_b2
    return psd_factor(gram).astype(spec.dtype)


def _run_chunk(spec, X, root, method, blocks, block_size, wanted, function):
    """All networks of ``blocks``: ({layer: [B, P, width]}, nonfinite mask, first bad layer)."""
    count = len(blocks) * block_size
    bad = np.zeros(count, dtype=bool)
    first_bad = None
    out = {}
    h = None
    first_factor = _gram_factor(spec, X, spec.input_dim, 1) if method == "gram" else None
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(1, wanted[-1] + 1):
            fan_in = spec.fan_out_in(layer)[1]
            a = X if layer == 1 else _activate(function, h, spec.dtype)
            if method == "weights":
                w, b = _draw_layer(spec, root, layer, blocks, block_size)
                h = _weight_step(spec, layer, h, a, w, b)
            else:
                factor = first_factor if layer == 1 else _gram_factor(spec, a, fan_in, layer)
                noise = _draw_gram_layer(spec, root, layer, blocks, block_size, X.shape[0])
                update = np.matmul(factor, noise.transpose(0, 2, 1))
                h = h + spec.dtype.type(spec.residual_scale) * update if spec.is_residual(layer) else update
            # Screen every layer, activations included: a saturating activation (tanh(inf) = 1)
            # would otherwise hide an overflow below it.
            new_bad = (_nonfinite_networks(h) | (_nonfinite_networks(a) if layer > 1 else False)) & ~bad
            if new_bad.any():
                bad |= new_bad
                first_bad = first_bad or layer
            if layer in wanted:
                out[layer] = h
    return out, bad, first_bad


def iter_preactivations(spec: MLPSpec, inputs: Any, n_networks: int, *, method: str = "gram",
                        layers: int | Sequence[int] | str | None = None, seed: Any = None, start: int = 0,
                        block_size: int | None = None, chunk_size: int | None = None,
                        progress: bool | None = None, nonfinite: str = "raise",
                        ) -> Iterator[tuple[int, dict[int, np.ndarray], np.ndarray]]:
    """Stream sampled networks: yields ``(first, {layer: h}, nonfinite)`` chunk by chunk.

    ``h`` is ``[m, P, width]`` for networks ``first .. first + m - 1`` (indices in the
    seeded sequence); ``nonfinite`` is a bool mask ``[m]`` of networks with inf/NaN
    (all False unless ``nonfinite="warn"``; ``"raise"`` raises :class:`NonFiniteError`).
    ``chunk_size`` (networks vectorized together, rounded up to whole blocks) changes
    speed and memory only, never the numbers. ``progress``: None shows a tqdm bar when
    stderr is a terminal and the run looks longer than 2 s; True/False force it.

    >>> spec = MLPSpec(2, 8, activation=np.tanh, depth=2)
    >>> [(first, h[2].shape) for first, h, bad in
    ...  iter_preactivations(spec, np.eye(2), 10, seed=0, block_size=4, chunk_size=4)]
    [(0, (4, 2, 8)), (4, (4, 2, 8)), (8, (2, 2, 8))]
    """
    _check_method(method)
    _check_policy(nonfinite)
    X = as_inputs(spec, inputs)
    wanted = spec.resolve_layers(layers)
    n_networks = check_integer(n_networks, "n_networks", 1)
    start = check_integer(start, "start", 0)
    if block_size is None:
        block_size = default_block_size(spec, method, X.shape[0])
    block_size = check_integer(block_size, "block_size", 1)
    if chunk_size is None:
        widest = max(spec.layer_width(l) for l in range(1, spec.n_layers + 1))
        per_network = _per_network_draws(spec, method, X.shape[0]) + X.shape[0] * widest
        chunk_size = max(1, _CHUNK_ELEMENTS // per_network)
    chunk_blocks = max(1, -(-check_integer(chunk_size, "chunk_size", 1) // block_size))
    function = numpy_activation(spec.activation)
    root = root_seed(seed)
    blocks = _block_range(start, n_networks, block_size)
    stop = start + n_networks
    bar = _Progress(n_networks, progress)
    try:
        for first_block in range(blocks.start, blocks.stop, chunk_blocks):
            chunk = range(first_block, min(first_block + chunk_blocks, blocks.stop))
            out, bad, first_bad = _run_chunk(spec, X, root, method, chunk, block_size, wanted, function)
            lo = max(start, chunk.start * block_size)
            hi = min(stop, chunk.stop * block_size)
            keep = slice(lo - chunk.start * block_size, hi - chunk.start * block_size)
            bad = bad[keep]
            if nonfinite == "raise" and bad.any():
                _report_nonfinite(bad, "raise", spec, f"{method}-space sampling", first_bad)
            yield lo, {layer: h[keep] for layer, h in out.items()}, bad
            bar.advance(hi - lo)
    finally:
        bar.close()


def sample_preactivations(spec: MLPSpec, inputs: Any, n_networks: int, *, method: str = "gram",
                          layers: int | Sequence[int] | str | None = None, seed: Any = None, start: int = 0,
                          block_size: int | None = None, chunk_size: int | None = None,
                          progress: bool | None = None, nonfinite: str = "raise") -> dict[int, np.ndarray]:
    """Sample ``n_networks`` independent networks: ``{layer: [n_networks, P, width]}``.

    ``inputs`` is ``[P, input_dim]``; ``layers`` (1-based, negative from the end; default
    the last layer) selects what to return. ``method="gram"`` samples each layer exactly
    from its Gaussian law given the previous activations (cost O(width P^2) per layer);
    ``method="weights"`` draws the real weights (same as ``forward(sample_weights(...))``).
    The other arguments are those of :func:`iter_preactivations`.

    >>> spec = MLPSpec(3, 16, activation=np.tanh, depth=2)
    >>> X = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    >>> h = sample_preactivations(spec, X, 100, seed=0, layers=[1, -1])
    >>> sorted(h), h[2].shape
    ([1, 2], (100, 2, 16))
    """
    X = as_inputs(spec, inputs)
    wanted = spec.resolve_layers(layers)
    out = {l: np.empty((check_integer(n_networks, "n_networks", 1), X.shape[0], spec.layer_width(l)), dtype=spec.dtype)
           for l in wanted}
    bad = np.zeros(n_networks, dtype=bool)
    for first, chunk, chunk_bad in iter_preactivations(
            spec, X, n_networks, method=method, layers=wanted, seed=seed, start=start, block_size=block_size,
            chunk_size=chunk_size, progress=progress, nonfinite=nonfinite):
        part = slice(first - start, first - start + chunk_bad.size)
        for layer, h in chunk.items():
            out[layer][part] = h
        bad[part] = chunk_bad
    _report_nonfinite(bad, nonfinite, spec, f"{method}-space sampling")
    return out


def sample_weight_space(spec: MLPSpec, inputs: Any, n_networks: int, **options) -> dict[int, np.ndarray]:
    """:func:`sample_preactivations` with real weights (``method="weights"``).

    >>> spec = MLPSpec(2, 8, activation=np.tanh, depth=1)
    >>> sample_weight_space(spec, np.eye(2), 3, seed=0)[1].shape
    (3, 2, 8)
    """
    return sample_preactivations(spec, inputs, n_networks, method="weights", **options)


def sample_gram_space(spec: MLPSpec, inputs: Any, n_networks: int, **options) -> dict[int, np.ndarray]:
    """:func:`sample_preactivations` through P x P Gram factors (``method="gram"``).

    >>> spec = MLPSpec(2, 8, activation=np.tanh, depth=1)
    >>> sample_gram_space(spec, np.eye(2), 3, seed=0)[1].shape
    (3, 2, 8)
    """
    return sample_preactivations(spec, inputs, n_networks, method="gram", **options)


def network_statistics(spec: MLPSpec, inputs: Any, n_networks: int, *, method: str = "gram",
                       layers: int | Sequence[int] | str | None = None, seed: Any = None, start: int = 0,
                       max_order: int = 4, block_size: int | None = None, chunk_size: int | None = None,
                       progress: bool | None = None, nonfinite: str = "raise",
                       ) -> dict[int, PreactivationStatistics]:
    """Streaming statistics of sampled networks: ``{layer: PreactivationStatistics}``.

    Memory is bounded by one chunk whatever ``n_networks``. Statistics are folded block
    by block in network order, so they are bit-identical for any ``chunk_size``.
    ``nonfinite="warn"`` drops networks with inf/NaN from the statistics, counts them in
    ``n_excluded`` and warns; ``"raise"`` (default) raises :class:`NonFiniteError`.

    >>> spec = MLPSpec(2, 64, activation=lambda h: np.maximum(h, 0), depth=1, sigma_w2=2.0)
    >>> stats = network_statistics(spec, np.eye(2), 2000, seed=0)[1]
    >>> k = stats.kernel   # exact: sigma_w2 * X X^T / d = identity
    >>> bool(abs(k.value[0, 0] - 1) < 5 * k.std_error[0, 0]), stats.count
    (True, 2000)
    """
    X = as_inputs(spec, inputs)
    wanted = spec.resolve_layers(layers)
    method_block = default_block_size(spec, method, X.shape[0]) if block_size is None else block_size
    result = {l: PreactivationStatistics(X.shape[0], max_order) for l in wanted}
    for first, chunk, bad in iter_preactivations(
            spec, X, n_networks, method=method, layers=wanted, seed=seed, start=start, block_size=method_block,
            chunk_size=chunk_size, progress=progress, nonfinite=nonfinite):
        # Fold block by block (aligned to the seeded blocks) so the rounding of the
        # merge does not depend on the chunk size.
        edges = sorted({0, bad.size} | {b * method_block - first for b in
                                         range(-(-first // method_block), (first + bad.size) // method_block + 1)
                                         if 0 < b * method_block - first < bad.size})
        for lo, hi in zip(edges[:-1], edges[1:]):
            for layer, h in chunk.items():
                try:
                    result[layer].update(h[lo:hi], exclude=bad[lo:hi], nonfinite=nonfinite)
                except NonFiniteError as error:
                    raise NonFiniteError(f"layer {layer} of {method}-space sampling: {error}") from None
    undefined = sum(stats.n_undefined_correlation for stats in result.values())
    if undefined:
        warnings.warn(f"{undefined} (network, layer) pairs have a zero preactivation norm on some input, so "
                      "no correlation; they are left out of `correlation` only (see n_undefined_correlation)",
                      RuntimeWarning, stacklevel=2)
    excluded = {layer: stats.n_excluded for layer, stats in result.items() if stats.n_excluded}
    if excluded:
        warnings.warn(f"{method}-space statistics: networks with inf or NaN preactivations or moments were "
                      f"excluded (networks excluded per layer: {excluded}; see n_excluded)",
                      NonFiniteWarning, stacklevel=2)
    return result
