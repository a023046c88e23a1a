"""The package layout (issue 14, outcome 5; issue 25, item 1): a flat foundation, one subpackage per paper
feature (mirroring rules/), each with a torch-free planning module, its job steps and its plots, and the flat
assembly modules that put the features together; imports run downward only (foundation <- features <-
assembly), with no cycle; no private names across modules.

The import graph, the layers and the cycle search are ``benchmarks/layout_stats.py``'s (which also prints the
figures: ``python benchmarks/layout_stats.py``)."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys

from conftest import REPO

PKG = REPO / "findeval"
_SPEC = importlib.util.spec_from_file_location("findeval_layout_stats", REPO / "benchmarks" / "layout_stats.py")
layout = sys.modules.setdefault(_SPEC.name, importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(layout)

#: Paper features: findeval/<feature>/{plan,jobs,plots}.py (rewinding also holds the instability analysis).
FEATURES = layout.FEATURES
#: The flat modules that assemble the features (they may import them): the figure registry, the config check.
ASSEMBLY = layout.ASSEMBLY
#: The flat modules below the features: they import no feature and no assembly module.
FOUNDATION = ("hparams", "io", "errors", "paths", "datasets", "data", "models", "channels", "masks", "training",
              "grouped", "runs", "regime", "plotting", "analysis", "process", "provenance", "snakelog")
#: Upward imports still there, each to be removed (the test fails once one is gone, so that the list shrinks):
#: none left.
KNOWN_UPWARD: set[tuple[str, str]] = set()
BLOCKED = ("torch", "numpy", "h5py")
IMPORT_LINE = re.compile(r"^\s*(?:from\s+(findeval(?:\.\w+)*)\s+import\s+([^#\n]+)|import\s+(findeval(?:\.\w+)+))", re.M)


def snakefile_modules() -> set[str]:
    """The findeval modules the Snakefile and rules/*.smk import (parse time)."""
    found = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        for m in IMPORT_LINE.finditer(path.read_text()):
            if m[3]:
                found.add(m[3])
                continue
            for entry in m[2].strip().strip("()").split(","):
                name = entry.split(" as ")[0].strip()
                if not name:
                    continue
                sub = f"{m[1]}.{name}"
                found.add(sub if (PKG / (sub.removeprefix("findeval.").replace(".", "/") + ".py")).exists()
                          or (PKG / sub.removeprefix("findeval.").replace(".", "/")).is_dir() else m[1])
    return found


def planning_modules() -> list[str]:
    plans = {f"findeval.{p.parent.name}.{p.stem}" for p in PKG.glob("*/*plan.py")}
    return sorted(plans | snakefile_modules())


def blocked_imports(modules) -> dict[str, str]:
    """{module: error} for each module that does not import with torch, numpy and h5py blocked (a fresh
    interpreter per module, so one module's imports do not hide another's)."""
    failed = {}
    for module in modules:
        code = "import sys\n" + "".join(f"sys.modules[{b!r}] = None\n" for b in BLOCKED) + f"import {module}\n"
        r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        if r.returncode:
            failed[module] = r.stderr.strip().splitlines()[-1]
    return failed


def test_the_planning_modules_import_without_torch_numpy_h5py():
    modules = planning_modules()
    # the scan sees the feature plans and the flat modules the rules import
    assert {f"findeval.{f}.plan" for f in FEATURES} <= set(modules), modules
    assert {"findeval.paths", "findeval.workflow", "findeval.figures", "findeval.rewinding.instability_plan"} \
        <= set(modules), modules
    assert blocked_imports(modules) == {}


def test_the_blocked_import_check_can_fail():
    failed = blocked_imports(["findeval.masks"])  # numpy at the top
    assert list(failed) == ["findeval.masks"] and "numpy" in failed["findeval.masks"], failed


def test_every_feature_is_a_package_with_plan_jobs_plots():
    for feature in FEATURES:
        d = PKG / feature
        assert (d / "__init__.py").is_file(), feature
        for part in ("plan", "jobs", "plots"):
            assert (d / f"{part}.py").is_file(), f"findeval/{feature}/{part}.py"
    # and the rules mirror them (a1 is find/eval/baselines/chains; claims, lpr, early, rewinding, structured)
    for feature in FEATURES[1:]:
        assert (REPO / "rules" / f"{feature}.smk").is_file(), feature
    flat = sorted(p.stem for p in PKG.glob("*.py") if p.stem != "__init__")
    assert flat == sorted(FOUNDATION + ASSEMBLY), flat


# --------------------------------------------------------------------------- the direction of imports


def test_the_assembly_modules_are_the_ones_that_import_features():
    """A flat module that imports a feature is an assembly module (named in ASSEMBLY), and each assembly module
    does import a feature or another assembly module (else it belongs to the foundation): configdoc reads the
    config through workflow's checks."""
    edges = layout.import_graph(REPO)
    importers = {e.source.split(".")[1] for e in edges
                 if layout.layer(e.target) == "feature" and e.source.count(".") == 1}
    assert importers - set(ASSEMBLY) <= {s.split(".")[1] for s, _ in KNOWN_UPWARD}, importers
    above = importers | {e.source.split(".")[1] for e in edges
                         if layout.layer(e.target) == "assembly" and e.source.count(".") == 1}
    assert set(ASSEMBLY) <= above, above
    assert {layout.layer(f"findeval.{m}") for m in FOUNDATION} == {"foundation"}


def test_no_module_imports_a_higher_layer():
    """No foundation module imports a feature or an assembly module, no feature imports an assembly module:
    module-level and function-local imports alike (but the listed KNOWN_UPWARD, each still there)."""
    up = layout.upward_imports(layout.import_graph(REPO))
    pairs = {(e.source, e.target) for e in up}
    assert [str(e) for e in up if (e.source, e.target) not in KNOWN_UPWARD] == []
    assert KNOWN_UPWARD <= pairs, f"gone, remove from KNOWN_UPWARD: {sorted(KNOWN_UPWARD - pairs)}"


def test_no_import_cycle():
    """No set of modules imports each other, directly or through others (function-local imports count)."""
    assert layout.import_cycles(layout.import_graph(REPO)) == []


def test_the_layer_and_cycle_checks_can_fail(tmp_path):
    """A planted package: a foundation module importing a feature at module level, another importing an assembly
    module inside a function, a feature importing an assembly module, and a cycle made of function-local imports
    (two foundation modules), plus imports that are allowed (feature -> foundation, assembly -> feature)."""
    files = {
        "findeval/__init__.py": "",
        "findeval/base.py": "from .a1 import jobs\n",
        "findeval/other.py": "def f():\n    from . import figures\n    from .ring import x\n",
        "findeval/ring.py": "x = 1\ndef g():\n    import findeval.other\n",
        "findeval/figures.py": "from .a1 import plan\nfrom . import paths\n",
        "findeval/paths.py": "",
        "findeval/a1/__init__.py": "",
        "findeval/a1/plan.py": "from ..figures import thing\n",
        "findeval/a1/jobs.py": "from .. import ring\nfrom . import plan\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    edges = layout.import_graph(tmp_path)
    up = [(e.source, e.target, e.local) for e in layout.upward_imports(edges)]
    assert sorted(up) == [("findeval.a1.plan", "findeval.figures", False), ("findeval.base", "findeval.a1.jobs", False),
                          ("findeval.other", "findeval.figures", True)], up
    assert layout.import_cycles(edges) == [["findeval.a1.plan", "findeval.figures"],
                                           ["findeval.other", "findeval.ring"]]
    assert sorted((p, line) for p, line, own in layout.local_imports(tmp_path) if own) == [
        ("findeval/other.py", 2), ("findeval/other.py", 3), ("findeval/ring.py", 3)]


def _module_aliases(tree: ast.AST, path, root) -> set[str]:
    """Local names bound to findeval modules in this file (``from findeval import x``, ``from . import x``,
    ``import findeval.x as y``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(node, path, root)
            if base is None:
                continue
            for a in node.names:
                target = root / (f"{base}.{a.name}".replace(".", "/"))
                if target.with_suffix(".py").exists() or target.is_dir():
                    names.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("findeval.") and a.asname:
                    names.add(a.asname)
    return names


def _resolve(node: ast.ImportFrom, path, root) -> str | None:
    """The absolute module of a ``from ... import`` inside the package or naming findeval, else None."""
    if node.level == 0:
        return node.module if node.module and node.module.split(".")[0] == "findeval" else None
    parts = list(path.relative_to(root).with_suffix("").parts)[:-node.level]
    return ".".join(parts + ([node.module] if node.module else []))


def private_uses(path, root=REPO) -> list[str]:
    """``from <findeval module> import _x`` and ``<findeval module>._x`` in one file (``root``: the folder that
    holds the package)."""
    tree = ast.parse(path.read_text())
    aliases = _module_aliases(tree, path, root)
    where = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _resolve(node, path, root) is not None:
            found += [(node.lineno, f"{where}:{node.lineno} {a.name}") for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append((node.lineno, f"{where}:{node.lineno} {node.value.id}.{node.attr}"))
    return [text for _, text in sorted(found)]


def test_no_module_uses_a_private_name_of_another():
    files = [*sorted(PKG.rglob("*.py")), *sorted((REPO / "scripts").glob("*.py")),
             *sorted((REPO / "benchmarks").glob("*.py"))]
    assert [u for f in files for u in private_uses(f)] == []


def test_the_private_name_scan_can_fail(tmp_path):
    (tmp_path / "findeval" / "lpr").mkdir(parents=True)
    for name in ("masks.py", "lpr/plots.py"):
        (tmp_path / "findeval" / name).write_text("")
    planted = tmp_path / "findeval" / "lpr" / "jobs.py"
    planted.write_text("from ..masks import _hidden\nfrom .. import masks\nfrom . import plots\nimport json\n"
                       "x = masks._secret, plots._short, json._default_encoder, masks.__name__\n")
    assert private_uses(planted, tmp_path) == ["findeval/lpr/jobs.py:1 _hidden", "findeval/lpr/jobs.py:5 masks._secret",
                                               "findeval/lpr/jobs.py:5 plots._short"]
