"""findeval: decoupled H_find / H_eval global magnitude pruning (the "decoupled find-eval phenomenon").

Importing the package is cheap on purpose: no torch, no torchvision. Each concept lives in one module:

- :mod:`findeval.hparams`  hyperparameter bundles (H_find, H_eval), their stable path names, seeds
- :mod:`findeval.data`     dataset registry, uint8 tensors, batched tensor augmentation
- :mod:`findeval.models`   ResNet registry and the definition of prunable tensors
- :mod:`findeval.channels` narrow (channel-pruned) ResNets: channel groups, the network at fewer channels
- :mod:`findeval.training` SGD training with masks that keep pruned weights exactly zero
- :mod:`findeval.masks`    global magnitude pruning (A1 line 5), random baselines, LPR, HDF5 mask files
- :mod:`findeval.io`       atomic writes, checkpoints, metrics files
- :mod:`findeval.analysis` aggregation of metrics into tidy tables, best-configuration selection
- :mod:`findeval.plotting` plotting helpers shared by several features' figures
- :mod:`findeval.runs`     the one training entry point; :mod:`findeval.process` what every job process does
- :mod:`findeval.paths`    every results path; :mod:`findeval.errors` the errors every layer raises

The flat modules form the foundation (they import no feature), except two assembly modules that put the
features together: :mod:`findeval.figures` (the figure registry) and :mod:`findeval.workflow` (the config
checks). ``tests/test_layout.py`` holds the direction of imports and the absence of cycles.

Each paper feature is a subpackage mirroring ``rules/``, with a torch-free planning module (``plan``, imported
by the Snakefile at parse time), its job steps (``jobs``) and its figures (``plots``): :mod:`findeval.a1`
(Algorithm A1: find, evaluate, random baselines), :mod:`findeval.lpr`, :mod:`findeval.early`,
:mod:`findeval.rewinding` (with the instability analysis), :mod:`findeval.structured`, :mod:`findeval.claims`.
"""

__version__ = "0.1.0"
