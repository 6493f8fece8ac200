"""Sampler benchmark, one run: Gram-space against weight-space, and weight-space GFLOP/s.

1. Networks per second of Gram-space and naive weight-space sampling for P = 2 inputs,
   width 1024, depth 10 (ReLU, sigma_w2 = 2), and their ratio.
2. Weight-space throughput in GFLOP/s (counting the matmul flops 2 P fan_in fan_out per
   layer and network) against a plain ``np.matmul`` of the same stacked shapes timed in
   the same run (the roof): for the whole sampler (weights drawn on the fly), for
   ``forward`` on weights drawn beforehand, at P = 2 (bandwidth/RNG bound) and P = 512
   (compute bound).

3. Weight drawing in normals/s against the generator's own rate (PCG64, the sampler's stream)
   in the same run, float64 and float32, with numpy's PCG64DXSM and SFC64 beside it; and the
   Gram-space sampler at P = 64 inputs in networks/s next to the weight-space one.

Run: ``python benchmarks/sampler.py [--seconds 1] [--json out.json]``. Times are the best of
repeated calls; the machine's other load only slows calls down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from ncsym.sampler import MLPSpec, forward, sample_preactivations, sample_weights


def relu(h):
    return np.maximum(h, 0.0)


def timed(functions: dict, seconds: float) -> dict:
    """Seconds per call of each function: calls alternate round-robin for about ``seconds``
    per function (at least 3 rounds, after a warm-up call each) and the best is kept, so that
    all see the same machine load, which can only add delay.
    """
    for function in functions.values():
        function()
    best = {name: float("inf") for name in functions}
    spent = {name: 0.0 for name in functions}
    rounds = 0
    while rounds < 3 or min(spent.values()) < seconds:
        for name, function in functions.items():
            tick = time.perf_counter()
            function()
            took = time.perf_counter() - tick
            best[name] = min(best[name], took)
            spent[name] += took
        rounds += 1
    return best


def inputs(P: int, d: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((P, d))


def gram_vs_weights(seconds: float) -> dict:
    spec = MLPSpec(2, 1024, activation=relu, depth=10, sigma_w2=2.0)
    X = np.array([[1.0, 0.0], [0.6, 0.8]]) * np.sqrt(2.0)
    gram_n, weight_n = 512, 2
    t = timed({"gram": lambda: sample_preactivations(spec, X, gram_n, method="gram", seed=1, progress=False),
               "weights": lambda: sample_preactivations(spec, X, weight_n, method="weights", seed=1,
                                                        progress=False)}, seconds)
    t_gram, t_weights = t["gram"], t["weights"]
    gram_rate, weight_rate = gram_n / t_gram, weight_n / t_weights
    return {"P": 2, "width": 1024, "depth": 10, "gram_networks_per_s": gram_rate,
            "weights_networks_per_s": weight_rate, "ratio": gram_rate / weight_rate}


def weight_space_throughput(P: int, seconds: float, width: int = 1024, depth: int = 10, networks: int = 2) -> dict:
    spec = MLPSpec(width, width, activation=relu, depth=depth, sigma_w2=2.0)
    X = inputs(P, width)
    flops = 2.0 * P * width * width * depth * networks
    weights = sample_weights(spec, networks, seed=2)
    # the roof: the same stacked matmul calls ([networks, P, fan_in] @ [networks, fan_in, fan_out]
    # as a transposed view of the stored weights), nothing else
    A = np.broadcast_to(X, (networks, P, width)).copy()

    def plain() -> None:
        for W in weights.weights:
            np.matmul(A, W.transpose(0, 2, 1))

    t = timed({"sampler": lambda: sample_preactivations(spec, X, networks, method="weights", seed=2, progress=False),
               "forward": lambda: forward(weights, X), "roof": plain,
               "draw": lambda: sample_weights(spec, networks, seed=3)}, seconds)
    t_sampler, t_forward, t_roof, t_draw = t["sampler"], t["forward"], t["roof"], t["draw"]
    roof = flops / t_roof / 1e9
    return {"P": P, "width": width, "depth": depth, "networks": networks,
            "sampler_gflops": flops / t_sampler / 1e9, "forward_gflops": flops / t_forward / 1e9,
            "matmul_roof_gflops": roof, "sampler_fraction_of_roof": t_roof / t_sampler,
            "forward_fraction_of_roof": t_roof / t_forward,
            "normals_per_s_drawing_weights": width * width * depth * networks / t_draw}


def generator_roof(seconds: float, width: int = 1024, depth: int = 10, networks: int = 2) -> dict:
    """Weight drawing against the generator's own rate (the roof), float64 and float32, and
    numpy's other bit generators for comparison (normals per second into a preallocated buffer)."""
    out = {}
    for dtype in (np.float64, np.float32):
        spec = MLPSpec(width, width, activation=relu, depth=depth, sigma_w2=2.0, dtype=dtype)
        buffer = np.empty(width * width * networks, dtype=dtype)
        generators = {name: np.random.Generator(getattr(np.random, name)(0)) for name in ("PCG64", "PCG64DXSM", "SFC64")}
        functions = {"sampler": lambda: sample_weights(spec, networks, seed=3)}
        for name, rng in generators.items():
            functions[name] = (lambda r: lambda: [r.standard_normal(dtype=dtype, out=buffer) for _ in range(depth)])(rng)
        t = timed(functions, seconds)
        count = width * width * networks * depth
        rates = {name: count / value for name, value in t.items()}
        out[np.dtype(dtype).name] = {**{f"{k}_normals_per_s": v for k, v in rates.items()},
                                     "sampler_fraction_of_PCG64": rates["sampler"] / rates["PCG64"]}
    return out


def gram_at_64(seconds: float) -> dict:
    spec = MLPSpec(64, 1024, activation=relu, depth=10, sigma_w2=2.0)
    X = inputs(64, 64)
    t = timed({"gram": lambda: sample_preactivations(spec, X, 64, method="gram", seed=1, progress=False),
               "weights": lambda: sample_preactivations(spec, X, 2, method="weights", seed=1, progress=False)}, seconds)
    return {"P": 64, "gram_networks_per_s": 64 / t["gram"], "weights_networks_per_s": 2 / t["weights"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measured function")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "numpy": np.__version__},
               "gram_vs_weights": gram_vs_weights(args.seconds),
               "weight_space": [weight_space_throughput(P, args.seconds) for P in (2, 512)]}
    results["generator_roof"] = generator_roof(args.seconds)
    results["gram_at_64"] = gram_at_64(args.seconds)
    for dtype, row in results["generator_roof"].items():
        print(f"weights {dtype}: sampler {row['sampler_normals_per_s']:.3g} normals/s, generator (PCG64) "
              f"{row['PCG64_normals_per_s']:.3g}, fraction {row['sampler_fraction_of_PCG64']:.2f}; "
              f"PCG64DXSM {row['PCG64DXSM_normals_per_s']:.3g}, SFC64 {row['SFC64_normals_per_s']:.3g}")
    g64 = results["gram_at_64"]
    print(f"P=64, width 1024, depth 10 (relu): Gram-space {g64['gram_networks_per_s']:.1f} networks/s, "
          f"weight-space {g64['weights_networks_per_s']:.2f} networks/s")
    g = results["gram_vs_weights"]
    print(f"P=2, width 1024, depth 10 (relu): Gram-space {g['gram_networks_per_s']:.1f} networks/s, "
          f"weight-space {g['weights_networks_per_s']:.2f} networks/s, ratio {g['ratio']:.0f}x")
    print(f"{'P':>5} {'sampler GF/s':>13} {'forward GF/s':>13} {'matmul roof':>12} "
          f"{'sampler/roof':>13} {'forward/roof':>13} {'weight normals/s':>17}")
    for row in results["weight_space"]:
        print(f"{row['P']:>5} {row['sampler_gflops']:>13.2f} {row['forward_gflops']:>13.2f} "
              f"{row['matmul_roof_gflops']:>12.2f} {row['sampler_fraction_of_roof']:>13.3f} "
              f"{row['forward_fraction_of_roof']:>13.3f} {row['normals_per_s_drawing_weights']:>17.3g}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
