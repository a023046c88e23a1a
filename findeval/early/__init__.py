"""Early pruning (paper section 3.5; figures 9, A18, A19): find chains whose trainings stop at epoch k, and the
LPR through training. ``plan``: settings, paths, figure params (torch-free); ``jobs``: the chains, sweeps and
the trajectory job; ``plots``: the figures."""
