"""The engine: measuring windows over the meters, turning them into records, and keeping them.

No IPython here: :mod:`nbprofile.ipython` drives the engine from cell hooks,
:mod:`nbprofile.blocks` from ``measure()`` / ``budget()`` blocks in scripts.
See :mod:`nbprofile.engine.profiler` for the rooms and how they meet.
"""
