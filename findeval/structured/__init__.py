"""Structured (channel) pruning (paper section 3.3; figures 5, A10, A11, A12 and the Rethinking comparison): L1
channel pruning with fine-tuning and Scratch-E/B baselines. ``plan``: settings, paths, figure panels
(torch-free); ``jobs``: pruning, trainings, the speed table; ``plots``: the figures."""
