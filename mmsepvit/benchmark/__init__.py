# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Speed, memory and multiply-adds of SepViT beside its peers, the package
behind ``tools/benchmark.py``.

* :mod:`.models`: the table of benchmarked backbones and how one is built.
* :mod:`.measure`: what is measured of one backbone in one process.
* :mod:`.worker`: the protocol that runs each measurement in a fresh
  process.
* :mod:`.report`: the default run and its table of ratios to SepViT-T.
* :mod:`.sweep`: time and memory over input sizes, and their plot.
* :mod:`.profile`: one forward and training step broken down by kind of
  operation.

``import mmsepvit`` does not import this package; its plotting and
profiling dependencies are imported where they are used.
"""
