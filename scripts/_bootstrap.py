"""Make the repository's ``findeval`` package importable from a Snakemake ``script:``, and set up the job.

Scripts run with their own folder on ``sys.path``; the package sits one level up. Putting the repository
first means a job always runs the code of the checkout it belongs to (also inside a conda env, where
PYTHONPATH is blocked), never a stale installed copy.

Every job script imports this module first, so this is the one place where a job (``findeval.process.job_started``)
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
    from findeval import process

    process.job_started(log=list(_smk.log), outputs=list(_smk.output))


def training_args(smk, *, grouped: bool = False) -> dict:
    """The keyword arguments every training job passes alike, from its rule's ``params`` and ``threads``: the
    training and augmentation blocks, the device, the speed options (precision, channels_last) and the thread
    count; with ``grouped``, the sweep's ``runtime.group`` (0 when the rule's params carry none)."""
    p = smk.params
    args = {"training": p.training, "augment": p.augment, "device": str(p.device), **p.speed, "threads": smk.threads}
    if grouped:
        args["group"] = p.get("grouped", {}).get("group", 0)
    return args
