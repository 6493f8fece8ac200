"""pytest at the repository root: the docstring examples of modules that need an optional
extra (scikit-learn) are skipped, not errors, where that extra is not installed."""

import importlib.util

#: module file -> the import it needs.
_OPTIONAL = {
    "ncsym/interop/sklearn_kernels.py": "sklearn",
}

collect_ignore = [path for path, needs in _OPTIONAL.items() if importlib.util.find_spec(needs) is None]
