"""``python -m proofs``: run the executable derivations and print a pass/fail table."""

import sys

from . import main

sys.exit(main())
