"""Make the repository's ``findeval`` package importable from a Snakemake ``script:``, and set up the job.

Scripts run with their own folder on ``sys.path``; the package sits one level up. Putting the repository
first means a job always runs the code of the checkout it belongs to (also inside a conda env, where
PYTHONPATH is blocked), never a stale installed copy.

Every job script imports this module first, so this is the one place where a job (``findeval.jobs.job_started``)
sends an uncaught exception (its type, message and traceback) to the rule's ``log:`` file before it exits
non-zero, and removes the temporaries a killed earlier run of the same job left beside its outputs.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

_smk = getattr(sys.modules.get("__main__"), "snakemake", None)
if _smk is not None:
    from findeval import jobs as _jobs

    _jobs.job_started(log=list(_smk.log), outputs=list(_smk.output))
