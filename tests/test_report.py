"""The Snakemake report and where figures go (issue 16, items 1 and 2).

- every figure rule's PNG is marked for the report with a caption (report/<fig>.rst) that renders on the default
  config without an undefined value, names the paper figure and shows the config values that shaped it;
- figures of experiment <exp> are written to results/<exp>/figures/; the committed gallery figures/ is written
  only by the `gallery` target (or a figures/<fig>.pdf asked for by name);
- `snakemake --report` over a whole tiny workflow (every figure family switched on, outputs created by
  --touch, nothing trained) holds every figure with its caption, the claims table and the regime tables.
The real report of a real run (fig2, with its PNG) is in tests/test_e2e.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from conftest import REPO, TINY, planned_jobs, read_yaml, snakemake, write_config
from findeval import figures as registry
from findeval.a1 import plan
from findeval.claims import plan as claims
from findeval.early import plan as early
from findeval.lpr import plan as lpr
from findeval.rewinding import instability_plan as instability, plan as rewinding
from findeval.structured import plan as splan

REPORT = REPO / "report"
#: every figure a rule draws, by module
ALL_FIGURES = (*plan.FIGURES, *plan.OTHER_FIGURES, *lpr.FIGURES, *rewinding.FIGURES, *instability.FIGURES,
               *early.FIGURES, *splan.FIGURES, "claims")


# --------------------------------------------------------------------------- paths


def test_figures_of_an_experiment_live_in_its_own_folder(tiny_config, main_config):
    assert plan.figure_path(tiny_config, "fig2") == "results/tiny/figures/fig2.pdf"
    assert plan.figure_path(main_config, "fig2", "png") == "results/digits/figures/fig2.png"
    with pytest.raises(ValueError, match="format"):
        plan.figure_path(tiny_config, "fig2", "svg")
    # every planner names its figures through plan.figure_path: none writes the gallery
    files = [f for group in registry.default_target(main_config, ["digits"]).values() for f in group]
    figures = [f for f in files if f.endswith((".pdf", ".png"))]
    assert len(figures) == 2 * len(ALL_FIGURES)  # figA8/figA9's data (digits) is there to prepare
    assert all(f.startswith("results/digits/figures/") for f in figures), figures
    # the gallery copies: PNGs only, named after the figure, tables left out
    gallery = plan.gallery_files(main_config, files)
    assert len(gallery) == len(figures) // 2 and "figures/claims.png" in gallery and "figures/fig2.png" in gallery
    assert plan.gallery_files(tiny_config, files) == []  # another experiment's figures are not this one's


def test_every_figure_has_a_report_entry_and_a_caption():
    assert set(ALL_FIGURES) == set(plan.REPORT_FIGURES)
    for fig in ALL_FIGURES:
        args = plan.report_args(fig)
        assert args["caption"] == f"../report/{fig}.rst"  # relative to rules/*.smk
        text = (REPORT / f"{fig}.rst").read_text()
        section, paper = plan.REPORT_FIGURES[fig]
        assert args["category"] == section and args["subcategory"] == paper
        assert paper.split(" (")[0] in text, fig  # the caption names the paper figure
    with pytest.raises(ValueError, match="REPORT_FIGURES"):
        plan.report_args("fig99")
    assert (REPORT / "workflow.rst").is_file()
    assert 'report: "report/workflow.rst"' in (REPO / "Snakefile").read_text()


class _Params(dict):
    __getattr__ = dict.__getitem__


def _figure_params(config: dict, fig: str) -> dict:
    """The params each figure rule gives its job (rules/figures.smk, from the registry; rules/claims.smk), which
    the captions read."""
    if fig == "claims":
        return {"claims": claims.settings(config)}
    return {"family": registry.family_of(config, fig).name, "figure": registry.params(config, fig)}


def _render(name: str, config: dict, params: dict, wildcards: dict | None = None) -> str:
    """A caption as Snakemake renders it, but with undefined values an error (Snakemake would print nothing)."""
    import jinja2
    from docutils.core import publish_parts

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    snakemake = _Params(config=config, params=_Params(params), wildcards=_Params(wildcards or {}))
    rst = env.from_string((REPORT / f"{name}.rst").read_text()).render(snakemake=snakemake)
    html = publish_parts(rst, writer_name="html", settings_overrides={"report_level": 2, "halt_level": 2})["body"]
    assert "system-message" not in html, html
    return html


def test_captions_render_with_the_config_values_on_the_default_config(main_config):
    """Every caption on config.yaml (which switches every figure family on): no undefined value, valid
    reStructuredText, and the values that shaped the figure are in it."""
    for fig in ALL_FIGURES:
        html = _render(fig, main_config, _figure_params(main_config, fig))
        assert "digits" in html, fig  # the experiment / dataset
        if fig in splan.FIGURES:
            assert "one-shot channel ratios [0.2, 0.4, 0.6, 0.8]" in html, fig
        elif fig in plan.OTHER_FIGURES:
            derived = plan.other_model_config(main_config, fig)
            assert derived["experiment"] in html and plan.describe_model(derived["model"]) in html, fig
        else:
            assert "14 pruning levels of 0.2 each (95.6% sparse at the last)" in html, fig
    assert "tested at level 7 of 14" in _render("claims", main_config, _figure_params(main_config, "claims"))
    assert "figures.fig7" in _render("fig7", main_config, _figure_params(main_config, "fig7"))
    regime_params = {"config": {k: main_config[k] for k in ("dataset", "model", "training", "defaults", "pruning")}}
    for name in ("regime", "regime_layers", "claims_table"):
        html = _render(name, main_config, regime_params, {"exp": "digits"})
        assert "digits" in html


# --------------------------------------------------------------------------- the gallery (dry runs)


def test_gallery_is_written_only_on_purpose(tmp_path, tiny_raw):
    write_config(tmp_path, tiny_raw)
    # the default target writes no gallery
    jobs = planned_jobs(snakemake(tmp_path, "-n", timeout=180).stdout)
    assert "gallery_figure" not in {j.rule for j in jobs}
    assert not any(o.startswith("figures/") for j in jobs for o in j.output)
    # `gallery` copies every PNG of the default target (and the claims) from results/tiny/figures/
    jobs = planned_jobs(snakemake(tmp_path, "-n", "gallery", timeout=180).stdout)
    copies = sorted(o for j in jobs if j.rule == "gallery_figure" for o in j.output)
    assert "figures/fig2.png" in copies and "figures/claims.png" in copies and "figures/fig6.png" in copies
    assert all(c.endswith(".png") for c in copies)
    source = next(j for j in jobs if j.rule == "gallery_figure" and j.output == ["figures/fig2.png"])
    assert source.wildcards == {"name": "fig2", "ext": "png"}
    figure_jobs = {j.rule for j in jobs} & set(plan.REPORT_FIGURES)
    assert len(copies) == len(figure_jobs)  # one copy per figure the default target draws
    # the old target still works: figures/fig2.pdf is fig2 of this experiment, copied on request
    jobs = planned_jobs(snakemake(tmp_path, "-n", "figures/fig2.pdf", timeout=180).stdout)
    copy_job = next(j for j in jobs if j.rule == "gallery_figure")
    assert copy_job.output == ["figures/fig2.pdf"] and "fig2" in {j.rule for j in jobs}


# --------------------------------------------------------------------------- the report of a whole workflow


@pytest.fixture(scope="module")
def touched_report(tmp_path_factory):
    """A tiny workflow with every figure family (early pruning, structured pruning, figA8/figA9), its outputs
    created empty and recorded with --touch (nothing is trained), then `snakemake --report report.zip`.
    About 30 s."""
    import zipfile

    wd = tmp_path_factory.mktemp("report")
    raw = read_yaml(REPO / "tests" / "data" / "tiny_structured.yaml")
    raw["training"] = {"epochs": 3, "milestones": [2], "gamma": 0.2}
    raw["early_pruning"] = {"epochs": [1]}
    raw["other_models"] = {"figA8": {"model": {"name": "resnet18", "width": 2}, "caption": "a stand-in"},
                           "figA9": {"model": {"name": "resnet_cifar", "depth": 8, "width": 2},
                                     "lr": {"find": [0.05, 0.1], "eval": [0.1]}, "constant_find": []}}
    write_config(wd, raw)
    summary = snakemake(wd, "-n", "--summary", timeout=180).stdout
    outputs = [line.split("\t")[0] for line in summary.splitlines()[1:] if line.strip()]
    for o in outputs:
        (wd / o).parent.mkdir(parents=True, exist_ok=True)
        (wd / o).touch()
    snakemake(wd, "--touch", "-F", timeout=300)
    snakemake(wd, "--report", "report.zip", timeout=300)
    with zipfile.ZipFile(wd / "report.zip") as z:
        html = z.read("report/report.html").decode()
        names = z.namelist()
    return {"wd": wd, "outputs": outputs, "html": html, "names": names, "raw": raw}


def _report_json(html: str, name: str):
    start = html.index(f"{name} = {{") + len(f"{name} = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


def test_report_has_every_figure_with_its_caption(touched_report):
    html, outputs = touched_report["html"], touched_report["outputs"]
    results = _report_json(html, "results")
    categories = _report_json(html, "categories")
    pngs = sorted(o for o in outputs if o.endswith(".png"))
    assert all(p.startswith("results/tiny/figures/") for p in pngs)  # figA8/A9 included: figures of tiny
    assert {Path(p).stem for p in pngs} == set(ALL_FIGURES)  # every figure family is on in this config
    for png in pngs:
        fig = Path(png).stem
        section, paper = plan.REPORT_FIGURES[fig]
        entry = results[png]
        assert entry["mime_type"] == "image/png", png
        assert categories[section][paper] == [png]
        caption = entry["caption"]
        assert paper.split(" (")[0] in caption and "tiny" in caption, (png, caption[:500])
        assert entry["labels"] == {"figure": fig, "paper": paper}
        assert any(n.endswith(f"/{fig}.png") for n in touched_report["names"])  # the file is in the zip
    # the values that shaped them: the tiny schedule, pruning and grids; structured, early and other blocks
    assert "3 epochs (multistep, milestones [2]" in results["results/tiny/figures/fig2.png"]["caption"]
    assert "2 pruning levels of 0.5 each (75.0% sparse" in results["results/tiny/figures/fig1.png"]["caption"]
    assert "one-shot channel ratios [0.3, 0.6]" in results["results/tiny/figures/fig5.png"]["caption"]
    assert "'epochs': [1]" in results["results/tiny/figures/fig9.png"]["caption"]
    assert "resnet18 (width 2)" in results["results/tiny/figures/figA8.png"]["caption"]
    # the tables: claims (with its figure) and the regime of every experiment
    assert categories["Claims"]["Claims table"] == ["results/tiny/claims.csv"]
    assert "claim" in results["results/tiny/claims.csv"]["caption"]
    for exp in ("tiny", "tiny-figa8", "tiny-figa9"):
        assert set(categories["Regime"][exp]) == {f"results/{exp}/regime.csv", f"results/{exp}/regime_layers.csv"}
        assert exp in results[f"results/{exp}/regime.csv"]["caption"]
    assert "the decoupled find-eval phenomenon of global magnitude pruning" in html  # report/workflow.rst
    # nothing went to the gallery
    assert not (touched_report["wd"] / "figures").exists()


def test_report_categories_are_the_paper_sections_in_order(touched_report):
    categories = list(_report_json(touched_report["html"], "categories"))
    sections = [plan.SECTION_FAILING, plan.SECTION_DECOUPLED, plan.SECTION_OTHER, plan.SECTION_LPR,
                plan.SECTION_EARLY]
    assert set(sections) | {"Claims", "Regime"} == set(categories)
    assert sorted(sections) == sections  # "3.1 ..." < "3.2 ...": the report lists them in the paper's order


def test_structured_training_rules_get_a_gpu_and_the_speed_options(touched_report):
    """Item 9: the structured training rules declare the gpu resource (not with runtime.device cpu) and take
    runtime.precision / channels_last as params, as the other training rules do: a precision edit re-runs them
    (and every other training job); structured_speed, a CPU measurement, asks for no GPU."""
    wd, raw = touched_report["wd"], copy.deepcopy(touched_report["raw"])
    try:
        raw["runtime"] = {"precision": "bf16", "device": "cuda"}
        write_config(wd, raw)
        # the training jobs (and the speed job) alone: the prune jobs between them stay as they are, so each
        # training job's reason is its own params
        training = ("train_find_structured", "finetune_structured", "scratch_e", "scratch_b")
        targets = [o for o in touched_report["outputs"] if o.startswith("results/tiny/structured/")
                   and o.endswith("metrics.json")] + ["results/tiny/structured/speed.csv"]
        out = snakemake(wd, "-n", *targets, "--allowed-rules", *training, "structured_speed", timeout=180).stdout
        jobs = planned_jobs(out)
        rules = {j.rule for j in jobs}
        assert set(training) <= rules, out[-2000:]
        for rule in training:
            block = _job_block(out, rule)
            assert "Params have changed" in block and re.search(r"resources: .*gpu=1", block), block
        assert not re.search(r"resources: .*gpu=", _job_block(out, "structured_speed"))  # a CPU measurement
    finally:
        write_config(wd, touched_report["raw"])


def _job_block(out: str, rule: str) -> str:
    """The first planned job of ``rule`` in a dry-run log: its lines up to the next blank or dated line."""
    m = re.search(rf"^(?:local)?rule {rule}:\n((?:    .*\n)*)", out, re.M)
    assert m, f"no job of {rule}"
    return m.group(0)



# --------------------------------------------------------------------------- a report from any state (issue 24)


def _touch_target(wd: Path, *targets: str) -> list[str]:
    """Create the outputs of ``targets`` empty and record them as made (--touch): a run of those targets without
    training. Returns the outputs."""
    summary = snakemake(wd, "-n", "--summary", *targets, timeout=180).stdout
    outputs = [line.split("\t")[0] for line in summary.splitlines()[1:] if line.strip()]
    for o in outputs:
        (wd / o).parent.mkdir(parents=True, exist_ok=True)
        (wd / o).touch()
    snakemake(wd, "--touch", "-F", *targets, timeout=300)
    return outputs


def _report_results(wd: Path) -> dict:
    import zipfile

    with zipfile.ZipFile(wd / "report.zip") as z:
        return _report_json(z.read("report/report.html").decode(), "results")


def test_report_after_a_partial_run_holds_what_exists(tmp_path, tiny_raw):
    """`snakemake --report` after a run of one figure reports that figure, instead of failing on the files of the
    default target that are not there yet ("marked for report but does not exist")."""
    write_config(tmp_path, tiny_raw)
    outputs = _touch_target(tmp_path, "results/tiny/figures/fig2.pdf")
    assert "results/tiny/figures/fig2.png" in outputs and "results/tiny/figures/fig1.png" not in outputs
    snakemake(tmp_path, "--report", "report.zip", timeout=300)
    results = _report_results(tmp_path)
    assert set(results) == {"results/tiny/figures/fig2.png"}, sorted(results)
    assert "Figure 2" in results["results/tiny/figures/fig2.png"]["caption"]
    # with --report-after-run every file is marked: the run makes them (parse-time check of the flag)
    assert plan.report_only(["snakemake", "--report", "report.zip"])
    assert plan.report_only(["snakemake", "--report=report.html"])
    assert not plan.report_only(["snakemake", "--cores", "all", "--report", "r.zip", "--report-after-run"])
    assert not plan.report_only(["snakemake", "--cores", "all", "--report-stylesheet", "x.css"])


def test_gallery_builds_what_the_report_needs(tmp_path, tiny_raw):
    """`snakemake gallery` builds the default target (regime and claims tables included) besides the copies, so
    the report after it holds every figure and table; it records the gallery's experiment."""
    write_config(tmp_path, tiny_raw)
    outputs = _touch_target(tmp_path, "gallery")
    assert {"results/tiny/regime.csv", "results/tiny/claims.csv", "results/tiny/summary.csv",
            "figures/fig2.png", "figures/experiment.txt"} <= set(outputs), outputs
    snakemake(tmp_path, "--report", "report.zip", timeout=300)
    results = _report_results(tmp_path)
    pngs = {o for o in outputs if o.startswith("results/tiny/figures/") and o.endswith(".png")}
    assert pngs and pngs <= set(results)
    assert {"results/tiny/regime.csv", "results/tiny/regime_layers.csv", "results/tiny/claims.csv"} <= set(results)


def test_gallery_refuses_to_mix_experiments(tmp_path, tiny_raw):
    """The committed gallery names its experiment (figures/experiment.txt): copying the PNGs of another one there
    (a --configfile of another experiment) is refused with the way out; PDF copies (not committed) are not."""
    write_config(tmp_path, tiny_raw)
    (tmp_path / "figures").mkdir()
    marker = tmp_path / "figures" / "experiment.txt"
    marker.write_text("digits\n")
    for target in ("gallery", "figures/fig2.png"):
        r = snakemake(tmp_path, "-n", target, check=False, timeout=180)
        out = r.stdout + r.stderr
        assert r.returncode != 0, out[-2000:]
        assert "holds the figures of experiment 'digits'" in out and "experiment is 'tiny'" in out, out[-3000:]
        assert "git rm -q figures/*.png figures/experiment.txt" in out
    jobs = planned_jobs(snakemake(tmp_path, "-n", "figures/fig2.pdf", timeout=180).stdout)
    assert any(j.rule == "gallery_figure" and j.output == ["figures/fig2.pdf"] for j in jobs)
    marker.write_text("tiny\n")  # this experiment's gallery: planned, and the marker is rewritten by the gallery job
    jobs = planned_jobs(snakemake(tmp_path, "-n", "gallery", timeout=180).stdout)
    assert any(j.rule == "gallery_experiment" and j.output == ["figures/experiment.txt"] for j in jobs)
    assert "gallery_figure" in {j.rule for j in jobs}  # an existing marker does not stop the copies
    # the repository's gallery says which experiment it holds: the default's
    assert (REPO / "figures" / "experiment.txt").read_text().strip() == read_yaml(REPO / "config.yaml")["experiment"]
