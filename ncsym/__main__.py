"""``python -m ncsym ...`` is the ``ncsym`` command."""

from ncsym.outputs.cli import main

raise SystemExit(main())
