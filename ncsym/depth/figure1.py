"""The data of Figure 1 of Dunbar & Aaronson (2025): correlation maps and their cobwebs."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sympy

from ncsym.symbolic.activations import Activation, x
from ncsym.core.errors import DomainError

#: The three activations of the figure, by the labels used in the returned dictionaries.
FIGURE1_ACTIVATIONS = {
    "relu": Activation(sympy.Max(x, 0), name="relu"),
    "tanh(4x)": Activation(sympy.tanh(4 * x), name="tanh(4x)"),
    "relu - 1/sqrt(2 pi)": Activation(sympy.Max(x, 0) - 1 / sympy.sqrt(2 * sympy.pi), name="relu - 1/sqrt(2 pi)"),
}


def figure1_data(*, grid_points: int = 401, starts: Sequence[float] = (-0.8, 0.1, 0.6),
                 depth: int = 10) -> dict[str, Any]:
    """C(rho) on a grid of [-1, 1] and cobweb iterates for relu, tanh(4x), relu - 1/sqrt(2 pi).

    Natural hyperparameters throughout. Returns a dict with
    ``"rho"``: the grid, shape (grid_points,); ``"names"``: the three labels;
    ``"curves"``: {label: C on the grid}; ``"iterates"``: {label: array (len(starts), depth + 1)
    of rho_0..rho_depth}; ``"cobweb"``: {label: array (len(starts), 2 depth + 1, 2) of the
    staircase vertices (rho_0, rho_0), (rho_0, rho_1), (rho_1, rho_1), (rho_1, rho_2), ...};
    ``"fixed_points"``: {label: array of the fixed points in [-1, 1]}; ``"starts"``.

    >>> data = figure1_data(grid_points=5, starts=(0.5,), depth=2)
    >>> data["curves"]["relu"].round(4).tolist()
    [0.0, 0.109, 0.3183, 0.609, 1.0]
    >>> data["cobweb"]["relu"].shape
    (1, 5, 2)
    """
    from ncsym.depth.correlation import correlation_map

    if isinstance(grid_points, bool) or not isinstance(grid_points, int) or grid_points < 2:
        raise DomainError(f"grid_points must be an integer >= 2, got {grid_points!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise DomainError(f"depth must be a non-negative integer, got {depth!r}")
    start_values = np.asarray(starts, dtype=float)
    if start_values.ndim != 1 or np.isnan(start_values).any() or (np.abs(start_values) > 1).any():
        raise DomainError("starts must be a 1-D sequence of numbers in [-1, 1]")
    rho = np.linspace(-1.0, 1.0, grid_points)
    out: dict[str, Any] = {"rho": rho, "names": tuple(FIGURE1_ACTIVATIONS), "starts": start_values,
                           "curves": {}, "iterates": {}, "cobweb": {}, "fixed_points": {}}
    for label, act in FIGURE1_ACTIVATIONS.items():
        C = correlation_map(act)
        out["curves"][label] = np.asarray(C(rho), dtype=float)
        iterates = C.iterate(start_values, depth).T  # (len(starts), depth + 1)
        out["iterates"][label] = iterates
        out["cobweb"][label] = _cobweb(iterates)
        out["fixed_points"][label] = np.array([float(p.value) for p in C.fixed_points()])
    return out


def _cobweb(iterates: np.ndarray) -> np.ndarray:
    count, layers = iterates.shape
    vertices = np.empty((count, 2 * layers - 1, 2))
    vertices[:, 0::2, 0] = iterates
    vertices[:, 0::2, 1] = iterates
    vertices[:, 1::2, 0] = iterates[:, :-1]
    vertices[:, 1::2, 1] = iterates[:, 1:]
    return vertices
