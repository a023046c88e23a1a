"""Make the repository's ``findeval`` package importable from a Snakemake ``script:``.

Scripts run with their own folder on ``sys.path``; the package sits one level up. Putting the repository
first means a job always runs the code of the checkout it belongs to (also inside a conda env, where
PYTHONPATH is blocked), never a stale installed copy.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
