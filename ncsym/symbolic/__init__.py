"""The activation as a symbolic object: :class:`Activation`, the zoo of standard
activations, and the whitelisted parser that turns user text into one.

Owns: ``activation`` (the type, its pieces, breakpoints, derivatives and callables),
``zoo`` (the standard activations by name), and the safe string grammar: ``tokenizer``
(limits, tokens, exact numbers), ``grammar`` (the Pratt reader), ``functions`` (the function
table) and ``parse`` (its entry point, ``parse_expression``).
May import: ``ncsym.core``. Nothing here imports the Gaussian layer or anything above it.

>>> from ncsym.symbolic import activations
>>> activation("relu(x) - 1/sqrt(2*pi)").breakpoints
(0,)
"""

from ncsym.symbolic import zoo
from ncsym.symbolic.activations import Activation, activation, exact_number, x
from ncsym.symbolic.parse import parse_expression
__all__ = ["Activation", "activation", "exact_number", "parse_expression", "x", "zoo"]
