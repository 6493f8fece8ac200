"""ncsym's kernels in other libraries: scikit-learn kernels, and closed forms compiled for numpy, JAX or PyTorch.

The compiled NNGP map has the signature of the ``nngp_fn`` of neural-tangents'
``stax.Elementwise``, so a derived kernel can replace a numerical one there.

Owns: ``codegen`` (closed forms as array functions: ``to_function``, ``kernel_function``,
``nngp_function``, ``moment_function``), ``sklearn_kernels`` (``NNGPKernel``, ``NTKKernel``:
``sklearn.gaussian_process.kernels.Kernel`` subclasses, needing the ``sklearn`` extra).
May import: every theory layer (``core`` through ``models``); only ``outputs`` imports it.
scikit-learn, JAX and PyTorch are optional: importing this package needs none of them.

>>> from ncsym.interop import kernel_function
>>> float(kernel_function("relu")(0.0)) == 1 / (2 * 3.141592653589793)
True
"""

from ncsym.interop.codegen import (
    BACKENDS, activation_function, kernel_function, moment_function, nngp_function, to_function,
)

#: NNGPKernel and NTKKernel are attributes too (loaded on first use), but not in ``*``: they need scikit-learn.
__all__ = ["BACKENDS", "to_function", "kernel_function", "nngp_function", "moment_function", "activation_function"]


def __getattr__(name: str):
    # The scikit-learn kernels load on first use, so the package imports without scikit-learn.
    if name in ("NNGPKernel", "NTKKernel"):
        from ncsym.interop import sklearn_kernels

        return getattr(sklearn_kernels, name)
    raise AttributeError(f"module 'ncsym.interop' has no attribute {name!r}")
