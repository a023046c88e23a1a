"""The figure registry (findeval.figures, issue 14 outcome 3): every figure is declared once, with the files it
reads and how it draws; one rule loop (rules/figures.smk) and one script (scripts/figure.py) build them all, and
the default target comes from one function."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO, TINY, read_yaml, validated
from findeval import figures
from findeval.a1 import plan
from findeval.early import plan as early
from findeval.lpr import plan as lpr
from findeval.rewinding import instability_plan as instability, plan as rewinding
from findeval.structured import plan as splan

RULES = REPO / "rules"


def test_every_figure_of_every_planner_is_registered_once(main_config):
    declared = [*plan.FIGURES, *plan.other_figures(main_config), *lpr.FIGURES, *rewinding.FIGURES,
                *instability.FIGURES, *early.FIGURES, *splan.FIGURES]
    registered = [fig for fig, _ in figures.rules(main_config)]
    assert sorted(registered) == sorted(declared) and len(set(registered)) == len(registered)
    # every registered figure has a report entry (caption, section)
    assert set(registered) <= set(plan.REPORT_FIGURES)


def test_only_the_registry_loop_makes_figure_rules_and_only_one_script_draws():
    smk = {p.name: p.read_text() for p in RULES.glob("*.smk")}
    loops = [name for name, text in smk.items() if re.search(r"^for _fig\b", text, re.M)]
    assert loops == ["figures.smk"], loops
    drawing = [name for name, text in smk.items() if "scripts/figure" in text]
    assert drawing == ["figures.smk"], drawing
    scripts = sorted(p.name for p in (REPO / "scripts").glob("*figure*.py"))
    assert scripts == ["figure.py", "gallery_figure.py"], scripts
    # no module but the registry calls a family's draw_figure (a plots module may hand a figure to another's)
    callers = [path.relative_to(REPO).as_posix() for path in [*(REPO / "findeval").rglob("*.py"),
                                                                *(REPO / "scripts").glob("*.py")]
               if path.relative_to(REPO).as_posix() != "findeval/figures.py" and path.name != "plots.py"
               and path.read_text().count("draw_figure(")
               > path.read_text().count("def draw_figure(")]
    assert callers == [], callers


def test_default_target_is_one_function_of_the_config(main_config, tiny_config):
    target = figures.default_target(main_config, ["digits"])
    assert set(target) == {"summary", "figures", "structured", "claims", "regime"}
    figs = figures.default_figures(main_config)
    assert target["figures"] == plan.figure_files(main_config, figs)
    # the main config switches every family on; the tiny config only A1 and LPR (and its late rewinding)
    assert set(early.FIGURES) | set(splan.FIGURES) | {"fig4"} <= set(figs)
    tiny = figures.default_figures(tiny_config)
    assert not set(early.FIGURES) & set(tiny) and not set(splan.FIGURES) & set(tiny)
    assert target["structured"] == splan.targets(main_config) and figures.default_target(
        tiny_config, ["tiny"])["structured"] == []


def test_one_epoch_schedule_has_no_rewinding_figures_in_the_default(tiny_config):
    one = {**tiny_config, "training": {**tiny_config["training"], "epochs": 1, "milestones": []}}
    figs = figures.default_figures(one)
    assert not {"fig4", "figA13", "figA14"} & set(figs)
    assert {"fig4", "figA13", "figA14"} <= {fig for fig, _ in figures.rules(one)}  # still a rule, asked by name


@pytest.mark.parametrize("fig", ["fig2", "fig6", "fig4", "figA13"])
def test_tables_are_declared_by_family(tiny_config, fig):
    family = figures.family_of(tiny_config, fig)
    tables = figures.tables(tiny_config, fig)
    assert bool(tables) == family.table
    if tables:
        assert tables["table"].startswith("results/tiny/")


def test_unknown_figures_and_families_are_named():
    tiny = validated(read_yaml(TINY))
    with pytest.raises(ValueError, match="figure 'fig99' is not a figure of this config"):
        figures.family_of(tiny, "fig99")
    with pytest.raises(ValueError, match="unknown figure family 'nope'"):
        figures.draw("nope", "fig2", {}, files=[], pdf="x.pdf", png="x.png", table=None, style={})


def test_registry_is_torch_free():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import findeval.figures, yaml\n"
            f"c = yaml.safe_load(open({str(Path(REPO) / 'config.yaml')!r}))\n"
            "print(len(findeval.figures.rules(c)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 29
