"""Layerwise pruning ratios (paper section 3.4; figures 6, 7, 8, A15, A16, A17): LPR-constrained find chains
(match-LPR, local). ``plan``: paths, rule inputs, figure panels (torch-free); ``jobs``: pruning, trainings,
sweeps; ``plots``: the figures."""
