"""One paths module (issue 14, outcome 2): findeval.paths spells every results path, and each wildcard's grammar is
defined once, in the module that parses its values, and accepts exactly what that parser accepts.

**The rule for "no results path literal outside findeval/paths.py"** (Snakefile, rules/*.smk, findeval/*.py,
scripts/*.py): no string literal *in code* may contain ``results/`` followed by anything but white space (``"a
results/ folder"`` in a sentence is no path; ``f"results/{exp}"`` and ``"results/x.csv"`` are), nor be exactly
``"results"`` (a path joined from parts). That covers error messages too: a message that names a file asks
findeval.paths for its name, so it follows the layout. Prose is exempt: comments, and docstrings (the string that
opens a module, class or function body). Python files are read with ``ast`` (each piece of an f-string is checked),
the Snakemake files with ``tokenize`` (the same rule; a docstring there is the string that opens a ``def`` or
``class`` body or the file).
"""

from __future__ import annotations

import ast
import io
import random
import re
import subprocess
import sys
import textwrap
import tokenize

import pytest

from conftest import REPO, read_yaml
from findeval import paths
from findeval.a1 import plan
from findeval.hparams import SLUG, H, format_number
from findeval.lpr import plan as lpr
from findeval.rewinding import instability_plan as instability, plan as rewinding
from findeval.structured import plan as splan

# --------------------------------------------------------------------------- no results path literal elsewhere

#: ``results/`` followed by a path character or the end of the literal (an f-string piece ``results/`` then ``{exp}``)
RESULTS_LITERAL = re.compile(r"\bresults/(?!\s)")


def _is_path_literal(text: str) -> bool:
    return bool(RESULTS_LITERAL.search(text)) or text == paths.RESULTS


def python_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant of a Python source that is code: docstrings left out."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def snakemake_literals(source: str) -> list[tuple[int, str]]:
    """(line, token text) of every string token of a Snakefile or rule file that is code: docstrings (the string
    statement that opens the file or a ``def``/``class`` body) and comments left out."""
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.ENCODING}
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    out, line_start, header = [], True, None  # header: the first word of the last logical line
    first_word, opens_body = None, True  # the file's first statement may be a docstring
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NEWLINE:
            header, line_start, first_word = first_word, True, None
            opens_body = False
            continue
        if tok.type == tokenize.INDENT:
            opens_body = header in ("def", "class")
            continue
        if tok.type == tokenize.DEDENT:
            continue
        if line_start:
            first_word = tok.string
        if tok.type == tokenize.STRING:
            nxt = tokens[i + 1].type if i + 1 < len(tokens) else tokenize.ENDMARKER
            docstring = line_start and opens_body and nxt in (tokenize.NEWLINE, tokenize.ENDMARKER)
            if not docstring:
                out.append((tok.start[0], tok.string))
        line_start = False
    return out


def code_files() -> list:
    """Snakefile, rules/*.smk, every module of the package (subpackages too) and scripts/*.py, but the paths module."""
    files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk")), *sorted((REPO / "findeval").rglob("*.py")),
             *sorted((REPO / "scripts").rglob("*.py"))]
    return [f for f in files if f != REPO / "findeval" / "paths.py"]


def literals(path) -> list[tuple[int, str]]:
    text = path.read_text()
    return python_literals(text) if path.suffix == ".py" else snakemake_literals(text)


def test_no_results_path_literal_outside_the_paths_module():
    found, checked = [], 0
    for path in code_files():
        for line, text in literals(path):
            checked += 1
            if _is_path_literal(text):
                found.append(f"{path.relative_to(REPO)}:{line}: {text!r}")
    assert checked > 2000  # the scan reads the code's strings (not a vacuous pass)
    assert not found, "results paths spelled outside findeval/paths.py:\n" + "\n".join(found)


def test_the_literal_scan_finds_what_it_must():
    """The checker itself: code literals are found (plain, f-string, joined parts), prose is not."""
    py = '''"""Module docstring: results/<exp>/x.csv is prose."""
def f(exp):
    """Docstring: results/{exp}/dataset.npz."""
    # a comment: results/x
    a = f"results/{exp}/dataset.npz"
    b = os.path.join(d, "results", "x")
    c = "point results/ elsewhere"
    raise ValueError(f"the table (results/<exp>/lpr/{exp}.csv)")
'''
    hits = sorted(text for _, text in python_literals(py) if _is_path_literal(text))
    assert hits == ["results", "results/", "the table (results/<exp>/lpr/"]
    smk = '''"""file docstring: results/a"""
def fn(w):
    """results/{w.exp} in a docstring"""
    return f"results/{w.exp}/dataset.npz"


rule x:
    output:
        "results/{exp}/x.csv"
    log:
        f"results/{EXP}/logs/x.log",
    script:
        "../scripts/x.py"
'''
    hits = [text for _, text in snakemake_literals(smk) if _is_path_literal(text)]
    assert hits == ['f"results/{w.exp}/dataset.npz"', '"results/{exp}/x.csv"', 'f"results/{EXP}/logs/x.log"']
    # and findeval/paths.py, where the layout is spelled, is what the scan would flag
    assert any(_is_path_literal(text) for _, text in literals(REPO / "findeval" / "paths.py"))


def test_the_paths_module_imports_nothing_but_the_standard_library():
    tree = ast.parse((REPO / "findeval" / "paths.py").read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imports), imports
    code = "import sys, findeval.paths; print(sorted(m for m in ('torch', 'numpy', 'yaml', 'pandas') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert r.stdout.strip() == "[]"


def test_no_rule_writes_a_grammar_of_its_own():
    """Every wildcard constraint of the rules is a grammar of the module that parses the value (a name, not a
    regular expression written in the rule file): no string in a wildcard_constraints block but the '|' that
    joins the experiment and figure names."""
    blocks = 0
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        for m in re.finditer(r"^( *)wildcard_constraints:\n((?:\1    .*\n)+)", text, re.M):
            blocks += 1
            block = textwrap.dedent(m.group(2))
            strings = [t.string for t in tokenize.generate_tokens(io.StringIO(block).readline)
                       if t.type == tokenize.STRING]
            assert set(strings) <= {'"|"'}, f"{path.name}: {m.group(2)}"
    assert blocks >= 6


# --------------------------------------------------------------------------- the layout


def test_the_layout_of_one_experiment():
    assert paths.data("tiny") == "results/tiny/dataset.npz"
    assert paths.init("{exp}", "{seed}") == "results/{exp}/seed{seed}/init.pt"
    assert paths.reinit("tiny", 2) == "results/tiny/seed2/reinit.pt"
    assert paths.find_file("tiny", "lr0.1_bs64_wd5e-4", 0, 3, "mask") == \
        "results/tiny/find/lr0.1_bs64_wd5e-4/seed0/level3/mask.h5"
    assert paths.eval_sweep("e", plan.source("global_random", None), "H", 1) == "results/e/eval/global_random/H/seed1"
    assert paths.lpr_chain("e", lpr.chain_name("match_lpr", "A", "B"), 0) == "results/e/find_matched/A/match-B/seed0"
    assert paths.eval_sweep("e", lpr.chain_name("local", "A", find=False), "C", 0) == "results/e/eval/local/A/C/seed0"
    assert paths.theta_k("e", rewinding.variant_name("late", 2), "A", 0) == "results/e/late/k2/A/seed0/theta_k.pt"
    assert paths.variant_random_eval("e", "late/k1", "preserve_mask", "A", "B", 0) == \
        "results/e/late/k1/random_eval/preserve_mask/A/B/seed0"
    assert paths.interpolation("e", 0, "A", 1, 3) == "results/e/instability/k0/A/seed1/level3/interpolation.json"
    assert paths.early_eval("e", "A", 5, "B", 0) == "results/e/early/eval/A/epoch5/B/seed0"
    assert paths.structured_pruned("e", "A", 0, "0.5", "channels") == \
        "results/e/structured/find/A/seed0/ratio0.5/channels.json"
    assert paths.table("e", "lpr", "fig6") == "results/e/lpr/fig6.csv"
    assert paths.figure("e", "fig2", "png") == "results/e/figures/fig2.png"
    assert paths.gallery("fig2", "png") == "figures/fig2.png"
    with pytest.raises(ValueError, match="unknown file kind"):
        paths.level_file("d", 1, "weights")


def test_per_level_names_and_order():
    d = paths.find_chain("{exp}", "{hfind}", "{seed}")
    files = paths.per_level(d, 1, 2, "mask", start="ticket")
    assert list(files) == ["mask_1", "mask_2", "start_1", "start_2"]
    assert files["start_2"] == "results/{exp}/find/{hfind}/seed{seed}/level2/ticket.pt"
    assert paths.per_level(d, 0, 0, "trained", "metrics") == {
        "trained_0": "results/{exp}/find/{hfind}/seed{seed}/level0/trained.pt",
        "metrics_0": "results/{exp}/find/{hfind}/seed{seed}/level0/metrics.json"}
    assert paths.per_level(d, 3, 2, "mask") == {}


def test_logs_and_benchmark_records():
    """A job's log and benchmark record are named by its wildcards, each written as in the results' folders."""
    assert paths.log("{exp}", "train_find", "hfind", "seed", "level") == \
        "results/{exp}/logs/train_find/{hfind}/seed{seed}/level{level}.log"
    assert paths.log("e", "prune_match_lpr", "hfind", "href", "seed", "level") == \
        "results/e/logs/prune_match_lpr/{hfind}/match-{href}/seed{seed}/level{level}.log"
    assert paths.log("e", "x", "late_k", "warm", "epoch", "rkind") == "results/e/logs/x/k{late_k}/w{warm}/epoch{epoch}/{rkind}.log"
    assert paths.log("e", "aggregate") == "results/e/logs/aggregate.log"
    assert paths.log("e", "gallery/{name}.{ext}") == "results/e/logs/gallery/{name}.{ext}.log"
    assert paths.benchmark("e", "structured/finetune", "hfind", "heval", "seed", "ratio") == \
        "results/e/benchmarks/structured/finetune/{hfind}/{heval}/seed{seed}/ratio{ratio}.tsv"
    assert paths.benchmark_folder("results/e/benchmarks/eval_sweep/global_random/seed1.tsv") == "eval_sweep"
    assert paths.benchmark_folder("results/e/benchmarks/structured/finetune/A/B/seed0/ratio0.5.tsv") == "structured"
    with pytest.raises(ValueError, match="no benchmark record"):
        paths.benchmark_folder("results/e/logs/x.log")


# --------------------------------------------------------------------------- grammars: H slugs

#: Strings every grammar of an H slug must refuse, each for a reason H.parse refuses it too.
BAD_SLUGS = [
    "", "lr0.2_bs512", "lr0.2_bs512_wd1e-4_x", "bs512_lr0.2_wd1e-4", "lr0.2_bs51.2_wd1e-4", "lrabc_bs512_wd1e-4",
    "lr0.2_bs512_wd1e-4/", "lr0.2_bs512_wd1e-4\n", " lr0.2_bs512_wd1e-4", "lre_bs512_wd1e-4",
    "lr0_bs512_wd1e-4",          # lr must be > 0
    "lr0.0_bs512_wd0",           # a trailing zero (and zero)
    "lr-0.1_bs512_wd0",          # a sign
    "lr0.1_bs0_wd0",             # batch size 0
    "lr0.1_bs0512_wd0",          # a leading zero
    "lr0.1_bs512_wd-1e-4",       # negative weight decay
    "lr0.1_bs512_wd1e+4",        # '+' in the exponent
    "lr0.1_bs512_wd1E-4",        # 'E'
    "lr0.1_bs512_wd1e-400",      # three exponent digits (1e-400 is 0.0 as a float)
    "lr1e400_bs512_wd0",         # ... (inf)
    "lr.5_bs512_wd0",            # no digit before the point
    "lr5._bs512_wd0",            # nothing after it
    "lr0.10_bs512_wd0",          # trailing zero
    "lr00.1_bs512_wd0",          # leading zero
    "lr0.1_bs512_wdnan", "lrinf_bs512_wd0", "lr0.1_bs512_wd1e-4_", "lr0.1_bs512_wd0.", "lr1_bs1_wd0e5",
    "lr\u0661_bs512_wd0",        # a non-ASCII digit (int() and float() would take it)
    "lr0.1_bs\uff15_wd0",
]


def _parses(parser, text) -> bool:
    try:
        parser(text)
    except ValueError:
        return False
    return True


def _random_values(rng: random.Random, n: int) -> list[float]:
    """Values across every spelling format_number has: integers, plain decimals, small and large exponents."""
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.2:
            out.append(float(rng.randint(1, 99999)))
        elif kind < 0.5:
            out.append(round(rng.uniform(1e-3, 1e5), rng.randint(0, 8)) or 1.0)
        elif kind < 0.8:
            out.append(rng.choice([1, 2, 2.5, 5, 7.25]) * 10.0 ** rng.randint(-98, -4))
        else:
            out.append(rng.uniform(1, 10) * 10.0 ** rng.randint(-98, 98))
    return out


def _mutations(rng: random.Random, text: str, n: int) -> list[str]:
    alphabet = "0123456789.e-+_/lrbswdE x"
    out = []
    for _ in range(n):
        i = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            out.append(text[:i] + rng.choice(alphabet) + text[i:])
        elif op < 0.7 and i < len(text):
            out.append(text[:i] + text[i + 1:])
        elif i < len(text):
            out.append(text[:i] + rng.choice(alphabet) + text[i + 1:])
    return out


def slug_examples() -> list[str]:
    rng = random.Random(14)
    values = _random_values(rng, 300)
    hs = [H(lr, rng.choice([1, 7, 64, 512, 100000]), rng.choice([0.0, *values])) for lr in values]
    slugs = [h.slug for h in hs]
    return slugs + [m for s in slugs[:150] for m in _mutations(rng, s, 6)] + BAD_SLUGS


def test_every_slug_an_h_spells_is_in_the_grammar_and_parses_back():
    rng = random.Random(15)
    for lr in _random_values(rng, 500):
        for wd in (0.0, lr):
            h = H(lr, 128, wd)
            assert re.fullmatch(SLUG, h.slug), h.slug
            assert H.parse(h.slug) == h
    # the presets' and test configs' every H_find
    for path in [*sorted((REPO / "config").glob("*.yaml")), REPO / "config.yaml", REPO / "tests" / "data" / "tiny.yaml"]:
        config = read_yaml(path)
        if "grids" in config and "defaults" in config:
            for h in plan.find_hs(config):
                assert re.fullmatch(SLUG, h.slug), (path.name, h.slug)


def test_the_h_slug_grammar_accepts_exactly_what_h_parse_accepts():
    examples = slug_examples()
    accepted = [s for s in examples if re.fullmatch(SLUG, s)]
    assert 300 <= len(accepted) < len(examples) - 200  # both answers are well represented
    for s in examples:
        assert bool(re.fullmatch(SLUG, s)) == _parses(H.parse, s), repr(s)
    for s in BAD_SLUGS:
        assert not re.fullmatch(SLUG, s), repr(s)


def test_an_h_that_no_path_can_spell_is_refused():
    with pytest.raises(ValueError, match="cannot be spelled in a path"):
        H(1e-120, 128, 0.0).slug
    assert format_number(1e-99) == "1e-99" and H.parse(H(1e-99, 1, 0).slug).lr == 1e-99


# --------------------------------------------------------------------------- grammars: the other wildcards

GOOD_H = ["lr0.1_bs64_wd5e-4", "lr2_bs1_wd0"]


def _check_exact(grammar: str, parser, examples: list[str]):
    accepted = [s for s in examples if re.fullmatch(grammar, s)]
    assert accepted and len(accepted) < len(examples)
    for s in examples:
        assert bool(re.fullmatch(grammar, s)) == _parses(parser, s), repr(s)


def _with_mutations(good: list[str], bad: list[str]) -> list[str]:
    rng = random.Random(16)
    return good + bad + [m for s in good for m in _mutations(rng, s, 20)]


def test_the_source_grammar_accepts_exactly_what_parse_source_accepts():
    good = [plan.source(k, h) for k in ("lottery", "preserve_lpr") for h in GOOD_H] + [plan.source("global_random", None)]
    bad = ["lottery", "lottery/", "global_random/lr0.1_bs64_wd5e-4", "random/lr0.1_bs64_wd5e-4",
           "lottery/lr0.1_bs64_wd5e-4/x", "preserve_lpr/lr0_bs64_wd0", "lottery/lr0.1_bs64_wd5e-4 "]
    _check_exact(plan.SOURCE, plan.parse_source, _with_mutations(good, bad))
    assert plan.parse_source("lottery/lr0.1_bs64_wd5e-4") == ("lottery", "lr0.1_bs64_wd5e-4")
    assert plan.parse_source("global_random") == ("global_random", None)


def test_the_chain_grammars_accept_exactly_what_chain_spec_accepts():
    names = [("match_lpr", GOOD_H[0], GOOD_H[1]), ("local", GOOD_H[1], None)]
    chains = [lpr.chain_name(c, hf, hr) for c, hf, hr in names]
    constrained = [lpr.chain_name(c, hf, hr, find=False) for c, hf, hr in names]
    bad = ["find_matched/lr0.1_bs64_wd5e-4", "find_local/lr0.1_bs64_wd5e-4/match-lr2_bs1_wd0",
           "find_matched/lr0.1_bs64_wd5e-4/lr2_bs1_wd0", "find_local/lrx_bs1_wd0", "find_find_local/lr2_bs1_wd0",
           "find_global/lr2_bs1_wd0", "local", "find_local/", "matched/a/match-b"]
    examples = _with_mutations(chains + constrained, bad)
    for s in examples:  # {chain}: the find_ spellings chain_spec accepts; {constrained}: the others
        parsed = _parses(lpr.chain_spec, s)
        assert bool(re.fullmatch(lpr.CHAIN, s)) == (parsed and s.startswith("find_")), repr(s)
        assert bool(re.fullmatch(lpr.CONSTRAINED, s)) == (parsed and not s.startswith("find_")), repr(s)
    for (c, hf, hr), chain, con in zip(names, chains, constrained):
        assert lpr.chain_spec(chain) == lpr.chain_spec(con) == {"constraint": c, "hfind": hf, "href": hr}
    with pytest.raises(ValueError, match="needs the H_ref"):
        lpr.chain_name("match_lpr", GOOD_H[0])


def test_the_variant_grammar_accepts_exactly_what_parse_variant_accepts():
    good = [rewinding.variant_name("late", 3), rewinding.variant_name("warmup", 25), rewinding.variant_name("lr_rewind")]
    bad = ["late", "late/k", "late/3", "warmup/k3", "lr_rewind/", "lr_rewind/w1", "late/k\u0663", "late/k\u00b2",
           "late/k-1", "late/k 1", "warmup/w1.5"]
    _check_exact(rewinding.VARIANT, rewinding.parse_variant, _with_mutations(good, bad))
    assert rewinding.parse_variant(good[0]) == {"variant": "late", "late_epoch": 3, "warmup_iters": None}
    assert rewinding.parse_variant(good[1])["warmup_iters"] == 25


def test_the_ratio_and_random_kind_grammars():
    good = [splan.ratio_slug(r) for r in (0.1, 0.25, 0.5, 0.9, 5e-4, 0.123456789)]
    bad = ["0", "-0.5", "0.50", ".5", "5e-400", "1e+3", "ratio0.5", "0.5 "]
    _check_exact(splan.RATIO, splan.parse_ratio, _with_mutations(good, bad))
    assert splan.parse_ratio("5e-4") == 5e-4

    def rkind(text):
        if text not in instability.RANDOM_KINDS:
            raise ValueError(text)

    _check_exact(instability.RKIND, rkind, ["preserve_lpr", "preserve_mask", "preserve", "preserve_lpr|preserve_mask",
                                             "global_random", "preserve_maskx"])


def test_index_grammar_admits_only_ascii_digits():
    for s in ["0", "7", "30", "110"]:
        assert re.fullmatch(paths.INDEX, s) and int(s) >= 0
    for s in ["", "-1", "+3", " 3", "3_0", "\u0663", "1.0", "\u00b2"]:  # int() takes some of these: the rules do not
        assert not re.fullmatch(paths.INDEX, s), repr(s)


def test_by_level_inverts_per_level():
    """paths.by_level (the scripts' reader of a chain rule's named files) gives back per_level's files by level,
    levels ascending, and skips names of another form."""
    named = paths.per_level("d", 1, 3, "mask", start="ticket")
    assert paths.by_level(named, "mask") == {1: "d/level1/mask.h5", 2: "d/level2/mask.h5", 3: "d/level3/mask.h5"}
    assert list(paths.by_level({"start_10": "x", "start_2": "y", "start_x": "z", "starts_1": "w"}, "start")) == [2, 10]
    assert paths.by_level(named, "metrics") == {}
