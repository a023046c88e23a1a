"""Late rewinding and its relatives (paper section 3.2; figure 4) and the instability analysis (figures A13, A14).
``plan`` / ``instability_plan``: paths, rule inputs, figure params (torch-free); ``jobs`` / ``instability_jobs``:
the chains, sweeps and interpolations; ``plots``: the figures of both."""
