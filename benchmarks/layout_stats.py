"""The package's import structure, measured (issue 25): upward imports, import cycles, function-local imports,
the lines of ``rules/`` and the ``duplicates`` pair count.

``python benchmarks/layout_stats.py`` prints them for this checkout; ``tests/test_layout.py`` holds the first two
at zero with the same functions (``import_graph``, ``upward_imports``, ``import_cycles``).

The layers, lowest first:

- **foundation**: the flat modules of ``findeval/`` that are not assembly modules; they import only foundation;
- **feature**: ``findeval/<feature>/*.py``; they import foundation and other features;
- **assembly**: the flat modules that put the features together (``ASSEMBLY``: the figure registry, the config
  check); they may import anything.

An import is *upward* when it goes to a higher layer. A *cycle* is a set of two or more modules that reach each
other through imports, module-level and function-local alike (a strongly connected component of the graph).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "findeval"
#: Paper features: findeval/<feature>/ (mirroring rules/).
FEATURES = ("a1", "lpr", "early", "rewinding", "structured", "claims")
#: Flat modules that assemble the features (allowed to import them): the figure registry and the config check.
ASSEMBLY = ("figures", "workflow", "configdoc", "progress")
LAYERS = ("foundation", "feature", "assembly")


@dataclass(frozen=True)
class Import:
    """One import of a package module by another: ``source`` imports ``target`` at ``line`` of ``path``;
    ``local`` when the statement sits inside a function."""

    source: str
    target: str
    path: str
    line: int
    local: bool

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.path}:{self.line}{', in a function' if self.local else ''})"


def module_name(path: Path, root: Path) -> str:
    """The dotted name of a module file below ``root`` (the folder that holds the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """{dotted name: file} of every module of ``package`` below ``root``."""
    return {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def _in_functions(tree: ast.AST) -> set[int]:
    """The ids of the import nodes that sit inside a function."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return inside


def _targets(node, name: str, is_package: bool, modules) -> list[str]:
    """The package modules one import statement of module ``name`` loads (a submodule named in ``from x import
    y`` is the target, else ``x`` itself)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module.split(".")[0] != PACKAGE:
        return []
    found = []
    for a in node.names:
        sub = f"{module}.{a.name}"
        found.append(sub if sub in modules else module)
    return [t for t in dict.fromkeys(found) if t in modules]


def import_graph(root: Path = REPO, package: str = PACKAGE) -> list[Import]:
    """Every import of one module of ``package`` by another (self-imports left out), from the source text."""
    modules = package_modules(root, package)
    edges = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        local = _in_functions(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, name, path.name == "__init__.py", modules):
                    if target != name:
                        edges.append(Import(name, target, path.relative_to(root).as_posix(), node.lineno,
                                            id(node) in local))
    return sorted(edges, key=lambda e: (e.path, e.line, e.target))


def layer(module: str, features=FEATURES, assembly=ASSEMBLY) -> str | None:
    """``foundation``, ``feature`` or ``assembly`` for a package module; None for the package itself."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    if parts[1] in features:
        return "feature"
    return "assembly" if parts[1] in assembly else "foundation"


def upward_imports(edges, features=FEATURES, assembly=ASSEMBLY) -> list[Import]:
    """The imports that go from a lower layer to a higher one (a foundation module importing a feature or an
    assembly module, a feature importing an assembly module)."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    up = []
    for e in edges:
        a, b = layer(e.source, features, assembly), layer(e.target, features, assembly)
        if a is not None and b is not None and rank[a] < rank[b]:
            up.append(e)
    return up


def import_cycles(edges) -> list[list[str]]:
    """The sets of two or more modules that import each other, directly or through others (Tarjan's strongly
    connected components), each sorted, the list sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def local_imports(root: Path = REPO, package: str = PACKAGE) -> list[tuple[str, int, bool]]:
    """(file, line, of the package) for every import statement inside a function of the package."""
    found = []
    for path in package_modules(root, package).values():
        tree = ast.parse(path.read_text(), str(path))
        local = _in_functions(tree)
        for node in ast.walk(tree):
            if id(node) in local:
                own = node.level > 0 or (node.module or "").split(".")[0] == package \
                    if isinstance(node, ast.ImportFrom) else any(a.name.split(".")[0] == package for a in node.names)
                found.append((path.relative_to(root).as_posix(), node.lineno, own))
    return sorted(found)


def rules_lines(root: Path = REPO) -> int:
    """The lines of ``rules/*.smk`` (``wc -l``)."""
    return sum(len(p.read_bytes().splitlines()) for p in (root / "rules").glob("*.smk"))


def duplicate_pairs(root: Path = REPO) -> tuple[int | None, int | None, str]:
    """(pairs in the tree as it is, pairs with ``rules/*.smk`` read as Python, the second report's first line)
    from the ``duplicates`` command (it skips ``.smk`` files, so the tracked files are copied into a temporary
    folder with each ``.smk`` also named ``.smk.py``); (None, None, why) when the command is not there."""
    if shutil.which("duplicates") is None:
        return None, None, "duplicates: command not found"

    def count(repo: Path) -> tuple[int | None, str]:
        out = subprocess.run(["duplicates", "--repo", str(repo), "--most", "1", "--seconds", "120"],
                             capture_output=True, text=True).stdout
        first = out.splitlines()[0] if out else ""
        m = re.match(r"(\d+) pairs?", first)
        return (int(m[1]) if m else 0 if first.startswith("no duplicates") else None), first

    plain, _ = count(root)
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        for rel in files:
            src = root / rel
            if not src.is_file():
                continue
            dest = Path(tmp) / (rel + ".py" if rel.endswith(".smk") or rel == "Snakefile" else rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        with_rules, line = count(Path(tmp))
    return plain, with_rules, line


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    ap.add_argument("--no-duplicates", action="store_true", help="skip the duplicates count (it takes a while)")
    args = ap.parse_args(argv)
    root = args.repo.resolve()
    edges = import_graph(root)
    up, cycles, local = upward_imports(edges), import_cycles(edges), local_imports(root)
    print(f"upward imports: {len(up)}")
    for e in up:
        print(f"  {e}")
    print(f"import cycles: {len(cycles)}")
    for c in cycles:
        print(f"  {' <-> '.join(c)}")
    own = sum(1 for *_, o in local if o)
    print(f"function-local imports: {len(local)} ({own} of findeval modules)")
    print(f"lines of rules/*.smk: {rules_lines(root)}")
    if not args.no_duplicates:
        plain, with_rules, line = duplicate_pairs(root)
        print(f"duplicates pairs: {plain} (tree as is); {with_rules} (rules/*.smk and Snakefile read as .py)")
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
