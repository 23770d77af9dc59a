"""The one-shot first-GPU check: ``python -m nbprofile.gpucheck [--out DIR] [--quick]``.

Run once on a machine with an NVIDIA GPU (nvidia-ml-py and a CUDA build of torch
installed): it writes ``DIR/gpucheck.json`` (raw facts, rewritten after every
step) and ``DIR/gpucheck.txt`` (a short summary), in under seven minutes on an
H100/H200. Without a GPU it says so in one line and exits 0. Modules: ``probe``
(raw NVML facts), ``cells`` (the real profiler around GPU work), ``notebook`` (a real kernel run
by ``nbprofile run``, and a Dask cluster on the GPU), ``runner``
(steps, budgets, the JSON), ``summary`` (the text), ``__main__`` (the command).
"""
