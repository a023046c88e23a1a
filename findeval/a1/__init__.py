"""Algorithm A1 (paper section 3.1-3.3): find a mask with H_find by iterative global magnitude pruning, train it
with H_eval. ``plan``: the A1 planning (torch-free: lines, paths, figure panels, report sections); ``jobs``: the
find and eval steps; ``plots``: figures 1-3 and the appendix figures."""
