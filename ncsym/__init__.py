"""ncsym: exact and certified computations for wide random neural networks.

The tree follows the data flow, each layer importing only those before it:

    core (errors, Result) -> symbolic (Activation, zoo, parser) -> gaussian (expectations)
      -> hermite_series (coefficients) -> kernels (dual kernels) -> depth (maps, theorems)
      -> width_corrections (the 1/width theory)
    sampler (numpy only, apart) -> checks (theory against samples) -> models (the papers)
      -> interop, parallel (scikit-learn, code generation, Dask)
      -> outputs (report, cli, plots; the library never imports them)

This module is the public namespace: everything in ``__all__`` is the API, and
``from ncsym import *`` brings in exactly that (it shadows no Python builtin: the zoo's
``abs`` stays ``ncsym.abs``).

>>> import ncsym
>>> ncsym.activation("relu").breakpoints
(0,)
>>> ncsym.hermite(3).expr
sqrt(6)*(x**3 - 3*x)/6
"""

# Public names load on first use (PEP 562 module __getattr__): ``import ncsym`` imports none of
# the subpackages, and the first lookup of a name imports the module that defines it. To add a
# public name: put it in the tuple of its defining module below (a new line for a new module)
# and in ``__all__``. A subpackage itself is listed under its own name with the name "".
_EXPORTS: dict[str, tuple[str, ...]] = {
    "ncsym.core.errors": (
        "ActivationParseError", "ConvergenceError", "DomainError", "NcsymError", "NoClosedFormError",
        "NonFiniteError", "NonFiniteWarning", "NotSquareIntegrableError", "TimeBudgetError"
    ),
    "ncsym.core.results": ("Result",),
    "ncsym.core.timebound": ("get_time_budget", "set_time_budget", "time_budget",),
    "ncsym.symbolic": ("zoo",),
    "ncsym.symbolic.activations": ("Activation", "activation", "x",),
    "ncsym.symbolic.parse": ("parse_expression",),
    "ncsym.symbolic.zoo": (
        "abs", "cos", "elu", "erf", "exp", "gelu", "gelu_tanh", "hard_tanh", "hermite", "identity",
        "leaky_relu", "monomial", "relu", "selu", "shaped_relu", "sigmoid", "sign", "silu", "sin",
        "softplus", "step", "tanh"
    ),
    "ncsym.gaussian.moments": ("exact_expectation", "expectation", "gaussian_mean", "gaussian_moment",),
    "ncsym.gaussian.standardize": ("centered", "normalized",),
    "ncsym.hermite_series.coefficients": (
        "HermiteDecay", "hermite_coefficient", "hermite_coefficients", "hermite_coefficients_squared",
        "hermite_decay", "parseval_tail"
    ),
    "ncsym.kernels.dual": ("DualKernel", "dual_kernel", "kernel_matrix", "rho",),
    "ncsym.depth": (
        "CorrelationMap", "FixedPoint", "IndependenceCertificate", "NetworkKernels", "VarianceMap",
        "correlation_map", "figure1_data", "independence", "network_kernels", "nngp_kernel", "ntk_kernel",
        "phase_diagram", "variance_map"
    ),
    "ncsym.depth.critical": (
        "CriticalLine", "CriticalPoint", "critical_conditions_latex", "critical_line", "critical_point"
    ),
    "ncsym.depth.phases": ("PhaseDiagram", "phase_data",),
    "ncsym.depth.deep": ("Approach", "DeepCorrelation", "deep_correlation",),
    "ncsym.depth.certified_fixed_points": (
        "CertifiedFixedPoint", "certified_correlation_fixed_point", "certified_variance_fixed_point"
    ),
    "ncsym.sampler": ("",),
    "ncsym.width_corrections": (
        "FiniteWidth", "FiniteWidthKernels", "NTKFluctuations", "finite_width", "finite_width_kernels",
        "ntk_fluctuations"
    ),
    "ncsym.checks.layerwise": ("CrossCheck", "CrossCheckRow", "crosscheck", "finite_width_bias",),
    "ncsym.checks.width_scaling": ("WidthScaling", "finite_width_crosscheck",),
    "ncsym.models.coincidence_finite_width": (
        "DispersionComparison", "FiniteWidthDispersion", "compare_dispersion", "finite_width_dispersion",
        "finite_width_dispersions"
    ),
    "ncsym.models": (
        "Claim", "Comparison", "NetworkSample", "NeuralCovarianceSDE", "NormStability", "SDECrossCheck",
        "SDECrossCheckRow", "SDEPaths", "crosscheck_row", "crosscheck_shaped_relu", "derive_sde",
        "finite_width_log_norm_law", "finite_width_sde", "ks_two_sample", "norm_stability",
        "sample_shaped_relu_networks", "sample_smooth_shaped_networks", "shaped_relu_sde",
        "simulate_norm_explosion", "simulate_sde", "smooth_sde", "smooth_shaped", "ContractionCheck",
        "ContractionWarning", "DEQCrossCheck", "DEQKernel", "DEQNonConvergenceWarning", "DEQStatistics",
        "contraction_check", "deq_crosscheck", "deq_fixed_points", "deq_kernel", "deq_statistics",
        "lipschitz_constant", "paper_experiment", "paper_inputs", "relative_frobenius_error",
        "Definiteness", "DepthWidthGrid", "depth_width_grid", "DEQNTK", "deq_ntk", "deq_empirical_ntk",
        "CoincidenceResult", "CoincidenceSpec", "CoincidenceSweep", "HammingCorrelations",
        "IndependenceBaseline", "Interval", "NegativeCounts", "boolean_inputs", "clopper_pearson",
        "coincidence_experiment", "coincidence_spec", "coincidence_sweep", "count_all_negative",
        "dispersion_interval", "gp_dispersion", "hamming_correlations", "independence_baseline",
        "sample_networks"
    ),
    "ncsym.models.prior_kernel": ("NNPK", "NNPKTrend", "nnpk", "nnpk_limit", "nnpk_trend",),
    "ncsym.parallel.sweeps": ("sweep_critical_line", "sweep_kernel", "sweep_map", "sweep_network_statistics",
                              "sweep_phase_diagram",),
    "ncsym.interop.codegen": (
        "activation_function", "kernel_function", "moment_function", "nngp_function", "to_function"
    ),
    "ncsym.outputs.report": (
        "derivation_report", "latex_escape", "latex_result", "latex_table", "zoo_table_latex"
    ),
}
_WHERE = {name or module.rsplit(".", 1)[1]: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    """Import the module of a public name on its first lookup and keep the value here."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ncsym' has no attribute {name!r}")
    import importlib

    owner = importlib.import_module(module)
    value = owner if module.endswith("." + name) and name not in _EXPORTS[module] else getattr(owner, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))

__version__ = "0.1.0"

__all__ = [
    # errors and results
    "NcsymError", "ActivationParseError", "DomainError", "NotSquareIntegrableError", "NoClosedFormError",
    "ConvergenceError", "NonFiniteError", "NonFiniteWarning", "Result",
    "TimeBudgetError", "set_time_budget", "get_time_budget", "time_budget",
    # activations
    "Activation", "activation", "parse_expression", "x", "zoo",
    "relu", "step", "sign", "identity", "hard_tanh", "gelu", "gelu_tanh", "silu", "tanh", "erf", "sigmoid",
    "softplus", "selu", "sin", "cos", "exp", "leaky_relu", "elu", "monomial", "hermite", "shaped_relu",
    # Gaussian expectations and Hermite coefficients
    "expectation", "exact_expectation", "gaussian_mean", "gaussian_moment", "centered", "normalized",
    "hermite_coefficient", "hermite_coefficients", "hermite_coefficients_squared", "parseval_tail",
    "hermite_decay", "HermiteDecay",
    # kernels and depth
    "DualKernel", "dual_kernel", "kernel_matrix", "rho",
    "CorrelationMap", "FixedPoint", "VarianceMap", "NetworkKernels", "IndependenceCertificate",
    "correlation_map", "variance_map", "phase_diagram", "network_kernels", "nngp_kernel", "ntk_kernel",
    "independence", "figure1_data",
    "CriticalPoint", "CriticalLine", "critical_point", "critical_line", "critical_conditions_latex",
    "PhaseDiagram", "phase_data", "Approach", "DeepCorrelation", "deep_correlation",
    "CertifiedFixedPoint", "certified_variance_fixed_point", "certified_correlation_fixed_point",
    # finite-width corrections
    "FiniteWidth", "finite_width", "NTKFluctuations", "ntk_fluctuations", "FiniteWidthKernels",
    "finite_width_kernels",
    # the sampler and cross-checks
    "sampler", "CrossCheck", "CrossCheckRow", "crosscheck", "finite_width_bias",
    "WidthScaling", "finite_width_crosscheck",
    # the papers' models
    "Claim", "NeuralCovarianceSDE", "derive_sde", "shaped_relu_sde", "smooth_shaped", "smooth_sde",
    "NormStability", "norm_stability", "simulate_norm_explosion", "SDEPaths", "simulate_sde",
    "finite_width_sde", "NetworkSample", "sample_shaped_relu_networks", "sample_smooth_shaped_networks",
    "Comparison", "ks_two_sample", "finite_width_log_norm_law", "SDECrossCheckRow", "SDECrossCheck",
    "crosscheck_row", "crosscheck_shaped_relu",
    "ContractionWarning", "DEQNonConvergenceWarning", "ContractionCheck", "DEQKernel", "DEQStatistics",
    "DEQCrossCheck", "lipschitz_constant", "contraction_check", "deq_kernel", "deq_fixed_points",
    "deq_statistics", "deq_crosscheck", "paper_inputs", "paper_experiment", "relative_frobenius_error", "Definiteness",
    "DepthWidthGrid", "depth_width_grid", "DEQNTK", "deq_ntk", "deq_empirical_ntk",
    "NNPK", "NNPKTrend", "nnpk", "nnpk_limit", "nnpk_trend",
    "CoincidenceSpec", "coincidence_spec", "boolean_inputs", "sample_networks", "NegativeCounts",
    "count_all_negative", "Interval", "IndependenceBaseline", "independence_baseline", "gp_dispersion",
    "dispersion_interval", "clopper_pearson", "CoincidenceResult", "coincidence_experiment",
    "CoincidenceSweep", "coincidence_sweep", "HammingCorrelations", "hamming_correlations",
    "FiniteWidthDispersion", "finite_width_dispersion", "finite_width_dispersions", "DispersionComparison",
    "compare_dispersion",
    # sweeps in-process or on Dask, bit for bit the serial numbers
    "sweep_map", "sweep_phase_diagram", "sweep_critical_line", "sweep_network_statistics", "sweep_kernel",
    # closed forms as numpy/JAX/PyTorch functions (scikit-learn kernels: ncsym.interop)
    "to_function", "kernel_function", "nngp_function", "moment_function", "activation_function",
    # LaTeX
    "derivation_report", "zoo_table_latex", "latex_table", "latex_result", "latex_escape",
]
