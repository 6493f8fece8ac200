"""Which packages the distribution holds: everything under ncsym/, and the top-level
proofs/ directory shipped inside it as ``ncsym.proofs`` (so ``ncsym prove`` works after a
plain ``pip install .``, while ``python -m proofs`` keeps working from a checkout).

The package list is computed here rather than written out in pyproject.toml, so a new
subpackage of ncsym/ ships without anyone having to list it.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["ncsym", "ncsym.*"]), "ncsym.proofs"],
    package_dir={"ncsym.proofs": "proofs"},
)
