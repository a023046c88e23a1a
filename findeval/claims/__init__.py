"""The paper's claims, tested on this run's results (the claims table and figure). ``plan``: each claim's
settings and inputs (torch-free); ``stats``: the statistics (pure Python); ``jobs``: the claims' effects and the
table; ``plots``: the claims figure."""
