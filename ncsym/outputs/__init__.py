"""What people read: LaTeX reports and tables, the ``ncsym`` command line, plots.

Owns: ``report`` (LaTeX of results and whole derivations), ``cli`` (the command).
May import: the public API (``import ncsym``); the library never imports this package.
"""

from ncsym.outputs.report import *  # noqa: F401,F403
from ncsym.outputs.report import __all__
