"""Checks of a validated config that a JSON schema cannot express, run when the Snakefile loads.

Each failure raises :class:`ConfigError` naming the key, the value and what is allowed, before any job runs.
"""

from __future__ import annotations

import os

from .datasets import REGISTRY, dataset_ready  # noqa: F401  (dataset_ready re-exported: the tests' name)
from .errors import ConfigError  # noqa: F401 (defined in a foundation module, raised by the planners; re-exported)
from .hparams import H


#: Files and folders a dataset needs in its folder (existence checks only: no scan of their contents; the
#: preparation job checks every image it needs and names what is missing). From findeval.datasets.
DATASET_FILES = {name: d.files for name, d in REGISTRY.items() if d.has_files}
#: What ``dataset.root`` is, for the messages.
DATASET_ROOTS = {name: d.root for name, d in REGISTRY.items() if d.has_files}


def dataset_base(name: str, root: str) -> str:
    """The folder that holds the dataset's files: ``root``, or its standard subfolder when that has them."""
    return REGISTRY[name].base(root)


def check_dataset(ds: dict) -> None:
    """The dataset block's options, and its files where it has any: in ``dataset.root`` (or a standard
    subfolder), else where the record looks without one (a system-wide install), unless a download is allowed."""
    d = REGISTRY[ds["name"]]
    problems = d.option_problems(ds)
    if problems:
        raise ConfigError(problems[0])
    if not d.has_files:
        return
    name = d.name
    root = ds.get("root")
    if not root and not d.needs_root:
        if d.locate(None):
            return
        if ds.get("download"):
            raise ConfigError(f"dataset.download: true needs dataset.root, the folder torchvision downloads "
                              f"{name} into ({d.not_found(None)})")
        raise ConfigError(d.not_found(None))
    if not root:
        raise ConfigError(f"dataset.root must be set for dataset '{name}' ({DATASET_ROOTS[name]}); "
                          f"nothing is downloaded")
    if os.path.exists(root) and not os.path.isdir(root):
        raise ConfigError(f"dataset.root: {root!r} is a file, not a folder; dataset.root is {DATASET_ROOTS[name]}")
    if not os.path.isdir(root):
        if ds.get("download"):
            return  # the download creates it
        raise ConfigError(f"dataset.root: folder {root!r} does not exist ({DATASET_ROOTS[name]})")
    base = d.base(root)
    missing = d.missing(base)
    if missing and ds.get("download"):
        return
    if missing and d.search:
        raise ConfigError(f"dataset.root: {d.not_found(root)}")
    if missing:
        where = "".join(f" (nor in {os.path.join(root, s)})" for s in d.subdirs) if base == root else ""
        raise ConfigError(f"dataset.root: expected {', '.join(missing)}{where} for dataset '{name}', not found; "
                          f"dataset.root is {DATASET_ROOTS[name]}")


def check_model(model: dict) -> None:
    """The model block against its description (findeval.regime.ARCHITECTURES): the options it takes, its
    depth, its stem."""
    from .regime import ARCHITECTURES

    arch = ARCHITECTURES[model["name"]]
    for key in sorted(set(model) - {"name", *arch.options}):
        takers = ", ".join(a.name for a in ARCHITECTURES.values() if key in a.options)
        if key == "depth":
            raise ConfigError(f"model.depth: only {takers} takes a depth ({model['name']} has a fixed one)")
        raise ConfigError(f"model.{key}: {model['name']} does not take it (only {takers})")
    if "depth" in arch.options and "depth" in model and ((model["depth"] - 2) % 6 or model["depth"] < 8):
        raise ConfigError(f"model.depth: {model['name']} needs depth 6n+2 (8, 14, 20, ...), got {model['depth']}")


def check_split(ds: dict) -> None:
    """dataset.test_fraction must leave at least one training and one test image (digits' seeded split)."""
    d = REGISTRY.get(ds.get("name"))
    if d is None or d.n_train is not None or "test_fraction" not in ds:
        return
    n_train, n_test = d.sizes(ds["test_fraction"])
    if n_train < 1 or n_test < 1:
        raise ConfigError(f"dataset.test_fraction: {ds['test_fraction']!r} leaves {n_train} training and {n_test} "
                          f"test images of {ds['name']}'s {n_train + n_test} (per class round(test_fraction x n) go to "
                          "test): both need at least one; e.g. 0.2")


def check_augment(ds: dict) -> None:
    """dataset.augment's ranges are [low, high] with low <= high (RandomResizedCrop's scale and aspect ratio)."""
    augment = ds.get("augment")
    if not isinstance(augment, dict):
        return
    for key in ("crop_scale", "crop_ratio"):
        pair = augment.get(key)
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and pair[0] > pair[1]:
            raise ConfigError(f"dataset.augment.{key}: {list(pair)!r} is not a range [low, high] (low > high); "
                              f"write [{pair[1]}, {pair[0]}]")


#: Palettes figures.style.palette takes without importing seaborn (its named palettes); any other name is tried
#: with seaborn.color_palette when the config is checked (a matplotlib colormap, "husl", "ch:...", ...).
NAMED_PALETTES = tuple(f"{p}{n}" for p in ("deep", "muted", "bright", "pastel", "dark", "colorblind")
                       for n in ("", "6"))


def check_style(style: dict) -> None:
    """figures.style.palette must be a palette seaborn can draw with (checked here, not in a figure job after all
    training)."""
    palette = (style or {}).get("palette")
    if palette is None or palette in NAMED_PALETTES:
        return
    try:
        import seaborn as sns

        sns.color_palette(palette, 3)
    except ImportError:  # the figure jobs' environment has it; this one cannot check
        return
    except Exception as err:  # ValueError: "... is not a valid palette name"
        import matplotlib

        names = list(NAMED_PALETTES) + sorted(matplotlib.colormaps)
        raise ConfigError(f"figures.style.palette: {palette!r} is not a palette seaborn knows ({err}){_suggest(palette, names)}; "
                          f"e.g. {', '.join(NAMED_PALETTES[::2])}, a matplotlib colormap (viridis, tab10) or "
                          "'husl'") from None


#: Environment variables the jobs read, and what they take (checked when the config is checked).
LOCKING_ENV = ("FINDEVAL_HDF5_LOCKING", "HDF5_USE_FILE_LOCKING")


def check_environment(environ=None) -> None:
    """The environment variables the jobs read must hold values they take: FINDEVAL_HDF5_LOCKING and
    HDF5_USE_FILE_LOCKING (:func:`findeval.masks.file_locking`), FINDEVAL_RESUME_EVERY
    (:func:`findeval.runs.resume_every`). A job would fail on them (or, before, silently misread them) only
    after the DAG started."""
    from . import io

    environ = os.environ if environ is None else environ
    try:
        io.hdf5_locking(environ)
        io.resume_every(environ)
    except ValueError as err:
        raise ConfigError(f"environment: {err}") from None


def check_plans(config: dict, experiments: dict) -> None:
    """Everything the Snakefile plans from the config, at parse time and when it builds the DAG: every figure's
    parameters and input files, the default target and the claims' settings. A planner's ConfigError names its
    key; any other failure is made one naming the figure (no traceback after training)."""
    from . import figures
    from .claims import plan as claims
    from .structured.plan import StructuredConfigError

    def plan(where: str, call, *args):
        try:
            call(*args)
        except (ConfigError, StructuredConfigError):  # they name their key
            raise
        except Exception as err:
            raise ConfigError(f"{where}: the config cannot be planned: {type(err).__name__}: {err}") from err

    from .a1 import plan as a1
    from .lpr import plan as lpr
    from .rewinding import plan as rewinding
    from .structured import plan as structured

    plan("structured", structured.check, config)  # the parse-time settings of rules/*.smk
    plan("structured", structured.settings, config)
    plan("rewinding", rewinding.settings, config)
    for exp, cfg in experiments.items():
        plan("runtime.find_group", a1.find_groups, cfg, config["runtime"]["find_group"])
    plan("runtime.find_group", lpr.find_groups, config, config["runtime"]["find_group"])
    plan("runtime.find_group", lpr.extra_find_groups, config, config["runtime"]["find_group"])
    plan("runtime.find_group", a1.other_model_find_groups, config, config["runtime"]["find_group"])
    plan("runtime.find_group", a1.seed_groups, config, config["runtime"]["find_group"])
    for fig, _ in figures.rules(config):
        plan(f"figures.{fig}", figures.params, config, fig)
        plan(f"figures.{fig}", figures.inputs, config, fig)  # at DAG time in the Snakefile
    plan("the default target", figures.default_target, config, experiments)
    plan("claims", claims.settings, config)
    plan("claims", claims.inputs, config)
    plan("claims", claims.targets, config)


def check_workflow(config: dict, schema: dict, validate, schema_path: str) -> dict[str, dict]:
    """The one config check, of the Snakefile (``rules/common.smk``, when it loads) and of ``python -m
    findeval.workflow``: the first-mistake precheck (numbers written as strings converted), the schema validation
    (defaults filled in, in place), :func:`check_config`, the environment (:func:`check_environment`), every
    experiment (:func:`check_experiments`) and everything planned from the config (:func:`check_plans`).
    Returns the experiments by name. ``validate``: Snakemake's ``snakemake.utils.validate``."""
    precheck(config, schema)
    validate_config(config, schema, validate, schema_path)
    check_config(config)
    check_environment()
    experiments = check_experiments(
        config, lambda c: validate_config(precheck(c, schema), schema, validate, schema_path))
    check_plans(config, experiments)
    return experiments


def check_config(config: dict, *, data: bool = True) -> None:
    if data:
        check_dataset(config["dataset"])
    check_split(config["dataset"])
    check_augment(config["dataset"])
    check_style((config.get("figures") or {}).get("style"))

    check_model(config["model"])

    check_milestones(config["training"], "training")

    check_fraction_prunes(config)

    try:
        H(**config["defaults"])
    except (TypeError, ValueError) as err:
        raise ConfigError(f"defaults: {err}") from err
    for dim in ("lr", "batch_size", "weight_decay"):
        for phase in ("find", "eval"):
            values = config["grids"][dim][phase]
            for v in values:
                try:
                    H(**{**config["defaults"], dim: v})
                except (TypeError, ValueError) as err:
                    raise ConfigError(f"grids.{dim}.{phase}: {err}") from err
    if not config["seeds"]:
        raise ConfigError("seeds: at least one seed is needed")


def check_milestones(tr: dict, key: str) -> None:
    """A training block's milestones lie below its epochs (a later one would never decay the LR), increasing."""
    late = [m for m in tr.get("milestones", []) if m >= tr["epochs"]]
    if late:
        raise ConfigError(f"{key}.milestones: {late} are not below {key}.epochs = {tr['epochs']}")
    if list(tr.get("milestones", [])) != sorted(tr.get("milestones", [])):
        raise ConfigError(f"{key}.milestones must be increasing, got {tr['milestones']}")


def prunable_weights(config: dict) -> int | None:
    """The prunable weights (every convolution) of the config's model, from its spec alone (no torch)."""
    from . import regime

    try:
        shapes = regime.conv_shapes(config["model"], REGISTRY[config["dataset"]["name"]].in_channels)
    except (KeyError, ValueError, TypeError):
        return None  # reported by the model checks
    return sum(regime.numel(s) for _, s in shapes)


def check_fraction_prunes(config: dict) -> None:
    """pruning.fraction must remove at least one weight at every level (the exact count of the schedule,
    round-half-up of fraction x remaining): otherwise "pruned" masks would be the dense network."""
    from . import regime

    pruning = config.get("pruning") or {}
    fraction, levels = pruning.get("fraction"), pruning.get("levels")
    total = prunable_weights(config)
    if total is None or fraction is None or not levels or not 0 < float(fraction) < 1:
        return
    kept = regime.kept_schedule(total, fraction, levels)
    for level in range(1, len(kept)):
        if kept[level] == 0:
            raise ConfigError(f"pruning.levels: {levels} levels of pruning.fraction {fraction} prune all {total} "
                              f"prunable weights by level {level}: use at most {level - 1} levels")
        if kept[level] == kept[level - 1]:
            raise ConfigError(
                f"pruning.fraction: {fraction} prunes no weight at level {level} (round({fraction} x "
                f"{kept[level - 1]} remaining weights) = 0; the model has {total} prunable weights): use "
                f"pruning.fraction >= {0.5 / kept[level - 1]:.3g}" + (" or fewer pruning.levels" if level > 1 else ""))


def check_experiments(config: dict, validate) -> dict[str, dict]:
    """Every experiment the config plans, by name: the main one and those of ``other_models`` (figA8, figA9).

    ``validate(cfg)`` checks a derived config against the schema and fills its defaults (the Snakefile passes
    Snakemake's ``validate``). An entry's dataset folder is checked here only when it names one: an unset
    ``dataset.root`` leaves the figure out of the default target, and building it stops at data preparation with
    the message that says what is expected where.
    """
    from .a1 import plan

    experiments = {config["experiment"]: config}
    owner = {config["experiment"]: "the main experiment"}
    for fig, derived in plan.other_model_configs(config).items():
        where = f"other_models.{fig}"
        try:
            validate(derived)
            check_config(derived, data=dataset_ready(derived["dataset"]))
            plan.other_model_panels(config, fig)
        except Exception as err:  # schema errors come as WorkflowError, the rest as ConfigError/ValueError
            raise ConfigError(f"{where}: {err}") from err
        name = derived["experiment"]
        if name in experiments:
            other = experiments[name]
            differ = [k for k in plan.OTHER_MODEL_BLOCKS if derived[k] != other[k]]
            if differ:
                raise ConfigError(f"{where}.experiment: '{name}' is already {owner[name]}'s, whose "
                                  f"{', '.join(differ)} differ: give this one another experiment name")
            continue
        experiments[name], owner[name] = derived, where
    return experiments


# --------------------------------------------------------------------------- config files and a first check
#
# Before Snakemake's schema validation (whose messages are long, and say only "not of type number" for 5e-4),
# :func:`precheck` walks the config beside the schema and stops at the first value a researcher typically gets
# wrong, with one line naming the key, the value and what is allowed: numbers written as strings (``5e-4``,
# which PyYAML reads as a string, is converted), units (``0.1%``), unknown keys and enum values (with a
# did-you-mean), ranges, empty or duplicate lists. Whatever it does not cover the schema validation still checks.

import difflib
import math
import re

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def load_yaml_file(path: str, what: str = "config file", *, strict: bool = True) -> dict:
    """A YAML config as a dict; every failure is one ConfigError line: a missing file, a syntax error with its
    line and column, a key given twice (``strict``), a file that is not a mapping. Without ``strict`` (the
    schema, read at every parse) the C loader reads it, about 10x faster."""
    import yaml

    class Loader(yaml.SafeLoader if strict else getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{path} line {key_node.start_mark.line + 1}: key {key!r} is given twice "
                                  f"(first on line {seen[key] + 1}); YAML would silently keep the last one")
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node, deep=deep)

    if strict:
        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    if not os.path.exists(path):
        raise ConfigError(f"{what} {path} not found")
    if os.path.isdir(path):
        raise ConfigError(f"{what} {path} is a folder, not a YAML file")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=Loader)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path} is not a text (YAML) file: {err.reason} at byte {err.start}; "
                          "was a target (e.g. a .pdf) given after --configfile? Put targets before it") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{what} {path}{where}: YAML syntax error: {err.problem or err.context}"
                          + (" (tabs are not allowed for indentation: use spaces)"
                             if "\t" in (err.problem or "") or "\\t" in (err.problem or "") else "")) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path}: YAML error: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping of keys (experiment:, dataset:, ...), "
                          f"got {type(data).__name__}")
    return data


def resolve_schema(schema: dict, root: dict) -> dict:
    """``schema`` with its ``$ref`` followed and its ``allOf`` branches merged in (properties and all): the
    keywords precheck looks at, and the rows of docs/config.md (findeval.configdoc)."""
    while "$ref" in schema:
        ref = schema["$ref"]
        target = root
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            sub = resolve_schema(sub, root)
            for k, v in sub.items():
                if k == "properties":
                    props = dict(merged.get("properties", {}))
                    for name, s in v.items():
                        props[name] = {"allOf": [props[name], s]} if name in props else s
                    merged["properties"] = props
                else:
                    merged.setdefault(k, v)
        schema = merged
    return schema


def _types(schema: dict) -> set:
    t = schema.get("type")
    return set(t if isinstance(t, list) else [t]) if t else set()


def _suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _as_number(key: str, value: str, integer: bool):
    text = value.strip()
    if _NUMBER.match(text):
        number = float(text)
        if integer:
            if not number.is_integer():
                raise ConfigError(f"{key}: {value!r} is not a whole number (an integer is needed)")
            return int(number)
        return number
    hint = ""
    if re.match(r"^\d{1,3}(,\d{3})+$", text):
        hint = " (no thousands separators: write " + text.replace(",", "") + ")"
    elif text.endswith("%"):
        hint = " (no units or percent signs: write 0.001 for 0.1%)"
    elif re.match(r"^[+-]?\.?\d[\d.]*(e[+-]?\d+)?\s*[A-Za-z]+$", text):
        hint = " (no units: write the plain number)"
    raise ConfigError(f"{key}: {value!r} is not a number{hint}; write e.g. 0.1, 5.0e-4 or 5e-4")


def precheck(config, schema: dict, key: str = "", root: dict | None = None):
    """Check ``config`` against the common keywords of ``schema`` and return it with numbers written as strings
    converted (in place for mappings and lists). Raises ConfigError, one line, on the first problem."""
    root = schema if root is None else root
    schema = resolve_schema(schema, root)
    name = key or "config"
    types = _types(schema)
    numeric = types & {"number", "integer"}
    if isinstance(config, str) and numeric and "string" not in types:
        config = _as_number(name, config, integer=types & {"number", "integer"} == {"integer"})
    if isinstance(config, str) and types == {"boolean"}:
        # `--config 'runtime={channels_last: true}'` hands Snakemake's config the text 'true'
        if config.strip().lower() in ("true", "false"):
            config = config.strip().lower() == "true"
        else:
            raise ConfigError(f"{name}: {config!r} is not true or false; write true or false without quotes")
    if isinstance(config, bool) and numeric and "boolean" not in types:
        raise ConfigError(f"{name}: {config!r} is not a number")
    if isinstance(config, float) and types & {"number", "integer"} == {"integer"}:
        if not config.is_integer():
            raise ConfigError(f"{name}: {config!r} is not a whole number (an integer is needed)")
        config = int(config)
    if isinstance(config, (list, dict)) and types and not types & {"array", "object"}:
        what = "a list" if isinstance(config, list) else "a mapping"
        raise ConfigError(f"{name}: expected a single {' or '.join(sorted(t for t in types if t != 'null'))}, "
                          f"got {what} {config!r}")
    if isinstance(config, str) and "pattern" in schema and not re.search(schema["pattern"], config):
        raise ConfigError(f"{name}: {config!r} does not match {schema['pattern']} (letters, digits, _ . -; "
                          "no spaces or slashes)")
    if isinstance(config, (int, float)) and not isinstance(config, bool) and numeric:
        if isinstance(config, float) and not math.isfinite(config):
            raise ConfigError(f"{name}: {config!r} is not a finite number")
        lo, lo_x = schema.get("minimum"), schema.get("exclusiveMinimum")
        hi, hi_x = schema.get("maximum"), schema.get("exclusiveMaximum")
        allowed = " and ".join(x for x in (
            f">= {lo}" if lo is not None else "", f"> {lo_x}" if lo_x is not None else "",
            f"<= {hi}" if hi is not None else "", f"< {hi_x}" if hi_x is not None else "") if x)
        if (lo is not None and config < lo) or (lo_x is not None and config <= lo_x) \
                or (hi is not None and config > hi) or (hi_x is not None and config >= hi_x):
            hint = ""
            if (hi_x == 1 or hi == 1) and 1 < config <= 100:
                hint = f" (a fraction, not a percent: write {config / 100:g} for {config:g}%)"
            raise ConfigError(f"{name}: {config!r} is out of range; allowed: {allowed}{hint}")
    if "enum" in schema and not isinstance(config, (dict, list)) and config not in schema["enum"]:
        shown = ", ".join(repr(x) for x in schema["enum"])
        raise ConfigError(f"{name}: {config!r} is not allowed; choose from {shown}{_suggest(config, schema['enum'])}")
    if isinstance(config, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for k in list(config):
            sub = f"{key}.{k}" if key else str(k)
            if k in props:
                config[k] = precheck(config[k], props[k], sub, root)
            elif extra is False and props:
                raise ConfigError(f"{sub}: unknown key{_suggest(k, props)} (allowed under {name}: "
                                  f"{', '.join(props)})")
            elif isinstance(extra, dict):
                config[k] = precheck(config[k], extra, sub, root)
    elif isinstance(config, list) and "array" in types:
        if "minItems" in schema and len(config) < schema["minItems"]:
            raise ConfigError(f"{name}: needs at least {schema['minItems']} value(s), got {config!r}")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(config):
                config[i] = precheck(v, items, f"{name}[{i}]", root)
        if schema.get("uniqueItems"):
            seen = set()
            for v in config:
                marker = repr(v)
                if marker in seen:
                    raise ConfigError(f"{name}: {v!r} is listed twice in {config!r}; each value once")
                seen.add(marker)
    elif types and config is not None and not isinstance(config, (dict, list)):
        if "array" in types and not (types - {"array", "null"}):
            raise ConfigError(f"{name}: expected a list (e.g. [{config!r}]), got {config!r}")
        if "object" in types and not (types - {"object", "null"}):
            raise ConfigError(f"{name}: expected a mapping of keys, got {config!r}")
    return config


def _null_objects(config, schema: dict, root: dict, path=()) -> list[tuple]:
    """Paths of the keys set to null whose schema is a nullable object with defaults (``dataset.augment: null``):
    Snakemake's default-filling validator cannot descend into them (it calls ``setdefault`` on None)."""
    found = []
    if not isinstance(config, dict):
        return found
    props = resolve_schema(schema, root).get("properties") or {}
    for key, value in config.items():
        sub = props.get(key)
        if sub is None:
            continue
        sub = resolve_schema(sub, root)
        if value is None and "null" in _types(sub) and sub.get("properties"):
            found.append((*path, key))
        elif isinstance(value, dict):
            found += _null_objects(value, sub, root, (*path, key))
    return found


def _schema_error(err: Exception) -> Exception:
    """Snakemake's "Error validating config file." as one line that names the key and the reason (the
    jsonschema error it wraps), a ConfigError; any other error unchanged."""
    cause = err.__cause__ or err.__context__
    message, where = getattr(cause, "message", None), getattr(cause, "absolute_path", None)
    if message is None or where is None:
        return err
    key = ".".join(str(k) for k in where) or "the top level"
    hint = " (null is not allowed here: leave the key out for its default)" if getattr(cause, "instance", 0) is None \
        else ""
    return ConfigError(f"{key}: {message}{hint} (schemas/config.schema.yaml)")


def validate_config(config: dict, schema: dict, validate, schema_path: str) -> dict:
    """Snakemake's ``validate(config, schema_path)`` (fills the defaults), keeping an explicit null of a nullable
    object as null (``dataset.augment: null`` = no augmentation), instead of failing on it."""
    nulls = _null_objects(config, schema, schema)
    for path in nulls:
        parent = config
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
    try:
        validate(config, schema=schema_path)
    except Exception as err:
        raise _schema_error(err) from err
    finally:
        for path in nulls:
            parent = config
            for k in path[:-1]:
                parent = parent[k]
            parent[path[-1]] = None
    return config


def validate_file(config: dict, schema_path: str) -> dict:
    """:func:`validate_config` with Snakemake's validator against the schema file ``schema_path`` (tests, the
    command line)."""
    from snakemake.utils import validate

    return validate_config(config, load_yaml_file(schema_path, "schema", strict=False), validate, schema_path)


def precheck_file(config: dict, schema_path: str) -> dict:
    """:func:`precheck` against the schema file ``schema_path``."""
    return precheck(config, load_yaml_file(schema_path, "schema", strict=False))


def main(argv=None) -> int:
    """``python -m findeval.workflow CONFIG [CONFIG ...]``: check config files without starting Snakemake
    (YAML syntax with line numbers, keys, values, ranges, dataset folders); one line per problem."""
    import sys

    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m findeval.workflow CONFIG.yaml [...]", file=sys.stderr)
        return 2
    schema = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas",
                          "config.schema.yaml")
    from snakemake.utils import validate

    schema_data = load_yaml_file(schema, "schema", strict=False)
    status = 0
    for path in paths:
        try:
            check_workflow(load_yaml_file(path), schema_data, validate, schema)  # the Snakefile's check
            print(f"{path}: ok")
        except Exception as err:  # one line per file
            print(f"{path}: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    # run as the package's module, so that the planners' ConfigError (findeval.workflow's) is this one
    from findeval.workflow import main as package_main

    raise SystemExit(package_main())
