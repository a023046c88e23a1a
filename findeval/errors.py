"""Errors every layer may raise (a foundation module: pure Python, imports nothing of the package).

:class:`ConfigError` is the error of a config value the schema cannot judge: the planning modules of the
features and the config checks of :mod:`findeval.workflow` (which re-exports it) raise it, naming the key, the
value and what is allowed; the Snakefile stops on it before any job runs.
"""


class ConfigError(ValueError):
    """A config value that is wrong for this pipeline, with a message naming the key, the value and what is
    allowed."""
