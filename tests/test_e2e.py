"""End to end: a real ``snakemake --cores 2 results/tiny/figures/fig2.pdf`` with tests/data/tiny.yaml, then the
summary, then the report of both.

The workflow runs once per session (module fixture, about a minute on 2 cores); the tests inspect its files.
"""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import REPO, TINY, planned_jobs, read_yaml, snakemake, validated, write_config
from findeval import analysis, io, masks
from findeval.a1 import plan
from findeval.hparams import H

pytestmark = pytest.mark.slow

FIND = re.compile(r"results/tiny/find/(?P<hf>[^/]+)/seed(?P<seed>\d+)/level(?P<level>\d+)/")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("e2e")
    gallery = _gallery_state()
    raw = read_yaml(TINY)
    write_config(wd, raw)
    fig2 = snakemake(wd, "results/tiny/figures/fig2.pdf", cores=2, timeout=900)
    after_fig2 = sorted(str(p.relative_to(wd)) for p in (wd / "results").rglob("metrics.json"))
    mtimes = {rel: (wd / rel).stat().st_mtime_ns for rel in after_fig2}
    again = snakemake(wd, "-n", "results/tiny/figures/fig2.pdf", timeout=120)
    summary = snakemake(wd, "results/tiny/summary.csv", cores=2, timeout=900)
    mtimes_after = {rel: (wd / rel).stat().st_mtime_ns for rel in after_fig2}
    snakemake(wd, "results/tiny/regime.csv", timeout=120)  # config only, no training
    report = snakemake(wd, "--report", "report.html", "results/tiny/figures/fig2.pdf", "results/tiny/summary.csv",
                       "results/tiny/regime.csv", timeout=300)
    return {"wd": wd, "config": validated(raw), "fig2": fig2, "metrics_after_fig2": after_fig2, "again": again,
            "summary": summary, "mtimes": (mtimes, mtimes_after), "report": report,
            "gallery": (gallery, _gallery_state())}


def _gallery_state() -> dict:
    """The repository's committed gallery figures/: every file with its size and modification time."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in (REPO / "figures").iterdir() if p.is_file()}


def test_figures_exist(run):
    wd = run["wd"]
    pdf, png = wd / "results/tiny/figures/fig2.pdf", wd / "results/tiny/figures/fig2.png"
    assert pdf.stat().st_size > 1000 and pdf.read_bytes()[:5] == b"%PDF-"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (wd / "results/tiny/figures" / "fig1.pdf").exists()  # only what was asked for
    # an ordinary run writes its experiment's folder only: no gallery figures/ in the work folder, and the
    # repository's committed gallery is as it was
    assert not (wd / "figures").exists()
    before, after = run["gallery"]
    assert before == after and "fig2.png" in before
    log = wd / "results" / "tiny" / "logs" / "figures" / "fig2.log"
    assert log.is_file()


def test_exactly_the_planned_metrics(run):
    expected = plan.figure_inputs(run["config"], "fig2")
    made = set(run["metrics_after_fig2"])
    assert set(expected) <= made
    # the only others are metrics of find runs trained because a later level's mask needed their weights
    for extra in made - set(expected):
        m = FIND.match(extra)
        assert m, extra
        nxt = run["wd"] / "results/tiny/find" / m["hf"] / f"seed{m['seed']}" / f"level{int(m['level']) + 1}"
        assert (nxt / "mask.h5").is_file(), extra
    # tiny (lr find {0.05, 0.1}, eval {0.1, 0.2}, default 0.1, one seed, levels 0..2): find lr0.05 level 0,
    # find lr0.1 levels 0-2 (coupled), eval 0.05->0.1 and 0.1->0.2 levels 1-2, two random baselines levels 1-2
    assert len(expected) == 1 + 3 + 2 + 2 + 2 + 2


def test_coupled_evaluations_are_not_run(run):
    wd = run["wd"]
    lottery = wd / "results" / "tiny" / "eval" / "lottery"
    pairs = [(p.parent.name, p.name) for p in lottery.glob("*/*")]
    assert pairs  # the decoupled ones exist
    assert all(hf != he for hf, he in pairs), pairs
    for hf, he in pairs:
        assert H.parse(hf) != H.parse(he)


def test_second_dry_run_has_nothing_to_do(run):
    out = run["again"].stdout + run["again"].stderr
    assert "Nothing to be done" in out
    assert planned_jobs(out) == []


def _total(wd):
    arch = json.loads((wd / "results" / "tiny" / "seed0" / "architecture.json").read_text())
    return sum(torch.Size(s).numel() for s in arch["prunable"].values())


def test_lottery_masks_are_monotone_with_exact_counts(run):
    wd, cfg = run["wd"], run["config"]
    total = _total(wd)
    kept = masks.kept_schedule(total, cfg["pruning"]["fraction"], cfg["pruning"]["levels"])
    files = sorted((wd / "results" / "tiny" / "find").rglob("mask.h5"))
    assert files
    init, _ = io.load_checkpoint(wd / "results" / "tiny" / "seed0" / "init.pt")
    tickets = 0
    for f in files:
        m, attrs = masks.load_mask(f)
        level = int(f.parent.name.removeprefix("level"))
        assert attrs["level"] == level and attrs["kind"] == "lottery"
        assert H(**attrs["H_find"]).slug == f.parents[2].name
        assert masks.n_kept(m) == kept[level], f
        if level > 1:
            parent, _ = masks.load_mask(f.parent.parent / f"level{level - 1}" / "mask.h5")
            masks.check_monotone(m, parent, str(f))
        # the ticket next to it (where one was needed) is theta_0 * M
        if (f.parent / "ticket.pt").exists():
            tickets += 1
            ticket, _ = io.load_checkpoint(f.parent / "ticket.pt")
            for k, mk in m.items():
                assert torch.equal(ticket[k], init[k] * torch.from_numpy(mk).to(init[k].dtype)), (f, k)
    assert tickets >= 4  # fig2 alone needs levels 1-2 of lr0.05 and lr0.1


def test_trained_find_weights_are_masked(run):
    wd = run["wd"]
    for trained in (wd / "results" / "tiny" / "find").rglob("level[1-9]*/trained.pt"):
        state, _ = io.load_checkpoint(trained)
        m, _ = masks.load_mask(trained.parent / "mask.h5")
        for k, mk in m.items():
            assert torch.all(state[k][torch.from_numpy(~mk)] == 0.0), (trained, k)


def test_baseline_masks(run):
    wd, cfg = run["wd"], run["config"]
    total = _total(wd)
    kept = masks.kept_schedule(total, cfg["pruning"]["fraction"], cfg["pruning"]["levels"])
    globals_ = sorted((wd / "results" / "tiny" / "random" / "global").rglob("mask.h5"))
    lprs = sorted((wd / "results" / "tiny" / "random" / "preserve_lpr").rglob("mask.h5"))
    assert len(globals_) == cfg["pruning"]["levels"]  # one per level: it depends on neither H_find nor H_eval
    assert lprs and len(lprs) % cfg["pruning"]["levels"] == 0
    for f in globals_:
        m, attrs = masks.load_mask(f)
        assert attrs["kind"] == "global_random" and masks.n_kept(m) == kept[attrs["level"]]
    for f in lprs:
        m, attrs = masks.load_mask(f)
        hf, level = f.parents[2].name, attrs["level"]
        ref, _ = masks.load_mask(wd / "results" / "tiny" / "find" / hf / "seed0" / f"level{level}" / "mask.h5")
        assert masks.lpr(m) == masks.lpr(ref)
        assert not all((m[k] == ref[k]).all() for k in m)


def test_metrics_match_their_paths(run):
    wd = run["wd"]
    for rel in run["metrics_after_fig2"]:
        m = json.loads((wd / rel).read_text())
        parts = Path(rel).parts
        assert m["level"] == int(parts[-2].removeprefix("level")) and m["seed"] == int(parts[-3].removeprefix("seed"))
        assert m["epochs"] == 2 and len(m["history"]) == m["epochs_completed"]
        if parts[2] == "find":
            assert m["role"] == "train_find" and m["kind"] == "lottery"
            assert H(**m["H_find"]).slug == parts[3] and m["H_eval"] == m["H_find"]
        else:
            assert m["role"] == "train_eval" and parts[2] == "eval" and m["kind"] == parts[3]
            assert H(**m["H_eval"]).slug == parts[-4]
            if m["kind"] == "global_random":
                assert m["H_find"] is None
            else:
                assert H(**m["H_find"]).slug == parts[4]
        assert m["sparsity"] == pytest.approx(1 - 0.5 ** m["level"], abs=0.01)
        assert 0.0 <= m["test_accuracy"] <= 1.0


def test_logs_and_benchmarks_are_written(run):
    logs = run["wd"] / "results" / "tiny" / "logs"
    train_logs = list((logs / "train_find").rglob("*.log"))
    assert train_logs and all(p.stat().st_size > 0 for p in train_logs)
    assert list((run["wd"] / "results" / "tiny" / "benchmarks" / "train_eval").rglob("*.tsv"))


def test_summary_table(run):
    cfg = run["config"]
    path = run["wd"] / "results" / "tiny" / "summary.csv"
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(df.columns) == analysis.COLUMNS
    assert len(df) == len(plan.all_inputs(cfg))
    assert set(df["path"]) == set(plan.all_inputs(cfg))
    assert (df["experiment"] == "tiny").all()
    assert set(df["kind"]) == {"lottery", "global_random", "preserve_lpr"}
    coupled = df[df["coupled"] & (df["kind"] == "lottery")]
    assert len(coupled) and (coupled["role"] == "train_find").all()  # coupled lottery rows are the find runs
    assert (df.loc[df["role"] == "train_find", "kind"] == "lottery").all()
    assert (df.loc[df["role"] == "train_eval", "kind"] != "lottery").any()
    dense = df[df["level"] == 0]
    assert (dense["sparsity"] == 0).all() and (dense["role"] == "train_find").all()
    assert df["hfind"].fillna("").eq("").sum() == (df["kind"] == "global_random").sum()


def _rules_run(proc):
    return re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, re.M)


def test_fig2_run_ran_the_expected_jobs(run):
    rules = _rules_run(run["fig2"])
    assert rules.count("prepare_data") == 1 and rules.count("init") == 1 and rules.count("fig2") == 1
    # tiny: levels 0..2 of H_find lr 0.1 (coupled line), levels 0..1 of lr 0.05 (decoupled evaluations only)
    assert rules.count("train_find") == 5 and rules.count("prune") == 4 and rules.count("rewind") == 4
    assert "aggregate" not in rules


def test_summary_after_fig2_reuses_fig2_runs(run):
    rules = _rules_run(run["summary"])
    assert "aggregate" in rules
    assert "prepare_data" not in rules and "init" not in rules and "fig2" not in rules
    before, after = run["mtimes"]
    assert before == after  # no run of figure 2 was repeated for the summary


def test_report_holds_the_figure_with_its_caption(run):
    """``snakemake --report report.html`` after the run: fig2's PNG itself (inline), its caption with the paper
    figure and the run's settings, the regime table, and the workflow description."""
    html = (run["wd"] / "report.html").read_text()
    results = _report_json(html, "results")
    fig2 = results["results/tiny/figures/fig2.png"]
    assert fig2["mime_type"] == "image/png" and fig2["size"] != "0 bytes"
    caption = fig2["caption"]
    assert "Figure 2" in caption and "Section 3.2" in caption
    # the config values that shaped it, rendered from the config (tiny: 2 levels of 0.5, LR grids)
    assert "2 pruning levels of 0.5" in caption and "75.0% sparse" in caption
    assert "LR [0.05, 0.1] / [0.1, 0.2]" in caption
    categories = _report_json(html, "categories")
    assert categories["3.2 The decoupled find-eval phenomenon"]["Figure 2"] == ["results/tiny/figures/fig2.png"]
    assert set(categories["Regime"]["tiny"]) == {"results/tiny/regime.csv", "results/tiny/regime_layers.csv"}
    assert "the decoupled find-eval phenomenon of global magnitude pruning" in html  # report/workflow.rst


def _report_json(html: str, name: str):
    """A JSON value the Snakemake report embeds as ``<name> = {...}``."""
    start = html.index(f"{name} = {{") + len(f"{name} = ")
    return json.JSONDecoder().raw_decode(html, start)[0]

