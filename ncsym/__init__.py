"""ncsym: exact and certified computations for wide random neural networks.

The tree follows the data flow, each layer importing only those before it:

    core (errors, Result) -> symbolic (Activation, zoo, parser) -> gaussian (expectations)
      -> hermite_series (coefficients) -> kernels (dual kernels) -> depth (maps, theorems)
    sampler (numpy only, apart) -> checks (theory against samples) -> models (the papers)
      -> outputs (report, cli; the library never imports them)

This module is the public namespace: everything in ``__all__`` is the API, and
``from ncsym import *`` brings in exactly that (it shadows no Python builtin: the zoo's
``abs`` stays ``ncsym.abs``).

>>> import ncsym
>>> ncsym.activation("relu").breakpoints
(0,)
>>> ncsym.hermite(3).expr
sqrt(6)*(x**3 - 3*x)/6
"""

from ncsym.core.errors import (
    ActivationParseError, ConvergenceError, DomainError, NcsymError, NoClosedFormError, NonFiniteError,
    NonFiniteWarning, NotSquareIntegrableError, TimeBudgetError,
)
from ncsym.core.results import Result
from ncsym.core.timebound import get_time_budget, set_time_budget, time_budget
from ncsym.symbolic import zoo
from ncsym.symbolic.activations import Activation, activation, x
from ncsym.symbolic.parse import parse_expression
from ncsym.symbolic.zoo import (  # noqa: F401  (zoo.abs stays out of __all__: it would shadow abs)
    abs, cos, elu, erf, exp, gelu, gelu_tanh, hard_tanh, hermite, identity, leaky_relu, monomial, relu, selu,
    shaped_relu, sigmoid, sign, silu, sin, softplus, step, tanh,
)
from ncsym.gaussian.moments import exact_expectation, expectation, gaussian_mean, gaussian_moment
from ncsym.gaussian.standardize import centered, normalized
from ncsym.hermite_series.coefficients import (
    HermiteDecay, hermite_coefficient, hermite_coefficients, hermite_coefficients_squared, hermite_decay,
    parseval_tail,
)
from ncsym.kernels.dual import DualKernel, dual_kernel, kernel_matrix, rho
from ncsym.depth import (
    CorrelationMap, FixedPoint, IndependenceCertificate, NetworkKernels, VarianceMap, correlation_map,
    figure1_data, independence, network_kernels, nngp_kernel, ntk_kernel, phase_diagram, variance_map,
)
from ncsym.depth.critical import (
    CriticalLine, CriticalPoint, critical_conditions_latex, critical_line, critical_point,
)
from ncsym.depth.phases import PhaseDiagram, phase_data
from ncsym.depth.deep import Approach, DeepCorrelation, deep_correlation
from ncsym.depth.certified_fixed_points import CertifiedFixedPoint, certified_variance_fixed_point
from ncsym import sampler
from ncsym.width_corrections import (
    FiniteWidth, FiniteWidthKernels, NTKFluctuations, finite_width, finite_width_kernels, ntk_fluctuations,
)
from ncsym.checks.layerwise import CrossCheck, CrossCheckRow, crosscheck, finite_width_bias
from ncsym.checks.width_scaling import WidthScaling, finite_width_crosscheck
from ncsym.models.coincidence_finite_width import (
    DispersionComparison, FiniteWidthDispersion, compare_dispersion, finite_width_dispersion, finite_width_dispersions,
)
from ncsym.models import (
    Claim, Comparison, NetworkSample, NeuralCovarianceSDE, NormStability, SDECrossCheck, SDECrossCheckRow,
    SDEPaths, crosscheck_row, crosscheck_shaped_relu, derive_sde, finite_width_log_norm_law, finite_width_sde,
    ks_two_sample, norm_stability, sample_shaped_relu_networks, sample_smooth_shaped_networks, shaped_relu_sde,
    simulate_norm_explosion, simulate_sde, smooth_sde, smooth_shaped,
)
from ncsym.models import (
    ContractionCheck, ContractionWarning, DEQCrossCheck, DEQKernel, DEQNonConvergenceWarning, DEQStatistics,
    contraction_check, deq_crosscheck, deq_fixed_points, deq_kernel, deq_statistics, lipschitz_constant,
    paper_experiment, paper_inputs, relative_frobenius_error, Definiteness, DepthWidthGrid, depth_width_grid,
    DEQNTK, deq_ntk, deq_empirical_ntk,
)
from ncsym.models.prior_kernel import NNPK, NNPKTrend, nnpk, nnpk_limit, nnpk_trend
from ncsym.models import (
    CoincidenceResult, CoincidenceSpec, CoincidenceSweep, HammingCorrelations, IndependenceBaseline, Interval,
    NegativeCounts, boolean_inputs, clopper_pearson, coincidence_experiment, coincidence_spec, coincidence_sweep,
    count_all_negative, dispersion_interval, gp_dispersion, hamming_correlations, independence_baseline,
    sample_networks,
)
from ncsym.parallel.sweeps import sweep_kernel, sweep_map, sweep_network_statistics, sweep_phase_diagram
from ncsym.interop.codegen import (
    activation_function, kernel_function, moment_function, nngp_function, to_function,
)
from ncsym.outputs.report import derivation_report, latex_escape, latex_result, latex_table, zoo_table_latex

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
    "CertifiedFixedPoint", "certified_variance_fixed_point",
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
    "sweep_map", "sweep_phase_diagram", "sweep_network_statistics", "sweep_kernel",
    # closed forms as numpy/JAX/PyTorch functions (scikit-learn kernels: ncsym.interop)
    "to_function", "kernel_function", "nngp_function", "moment_function", "activation_function",
    # LaTeX
    "derivation_report", "zoo_table_latex", "latex_table", "latex_result", "latex_escape",
]
