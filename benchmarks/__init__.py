"""hubnox's benchmarks: `make bench` (python -m benchmarks) prints what a deal costs."""

from sandbox.gateway import ensure_layer_importable

# `python -m benchmarks` runs from the repository root; the layer is importable as on Lambda.
ensure_layer_importable()
