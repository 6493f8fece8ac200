"""Sweeps spread over processes or machines with Dask, giving the serial numbers bit for bit.

Owns: ``sweeps`` (phase diagrams, Monte Carlo over many networks, NNGP/NTK matrices by
tiles, and a generic map; each takes a ``dask.distributed.Client`` or ``workers=N`` for a
local cluster, and runs in-process without either).
May import: every theory layer (``core`` through ``models``) and ``ncsym.sampler``; only
``interop`` and ``outputs`` may import it. Dask (the ``dask`` extra) is needed only when a
client or ``workers`` is given.

>>> from ncsym.parallel import tile_plan
>>> len(tile_plan(100, 32))
4
"""

from ncsym.parallel.sweeps import *  # noqa: F401,F403
from ncsym.parallel.sweeps import __all__
