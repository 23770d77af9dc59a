"""A Dask cluster's workers, measured at each cell's edges when the kernel has a ``distributed.Client``.

``probe.py`` is what runs on each worker (standard library only, pickled by value);
``combine.py`` turns the two edges' answers into readings; ``meter.py`` finds the client and
makes the one round trip per edge; ``direct.py`` is its route to the workers, straight to each
one or through the scheduler. Nothing here imports distributed.
"""

from nbprofile.meters.dask.meter import DaskClusterMeter

__all__ = ["DaskClusterMeter"]
