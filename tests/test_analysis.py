"""Aggregation of metrics files into the summary table and the selections the figures make from it."""

import json

import numpy as np
import pandas as pd
import pytest

from findeval import analysis
from findeval.hparams import H

A = H(0.1, 64, 5e-4)
B = H(0.5, 64, 5e-4)


def metrics(tmp_path, name, *, kind="lottery", hf=A, he=A, level=1, seed=0, acc=0.5, role=None, sparsity=None):
    m = {"kind": kind, "role": role or ("train_find" if kind == "lottery" and hf == he or level == 0 else "train_eval"),
         "level": level, "seed": seed, "sparsity": 1 - 0.8**level if sparsity is None else sparsity,
         "H_find": hf.as_dict() if hf else None, "H_eval": he.as_dict(), "test_accuracy": acc,
         "test_loss": 1.0, "train_loss": 0.5, "diverged": False, "epochs": 2, "train_time_s": 1.0}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(m))
    return path


@pytest.fixture
def table(tmp_path):
    p = []
    for seed, bump in ((0, 0.0), (1, 0.02)):
        p.append(metrics(tmp_path, f"dA{seed}", hf=A, he=A, level=0, seed=seed, acc=0.90 + bump))
        p.append(metrics(tmp_path, f"dB{seed}", hf=B, he=B, level=0, seed=seed, acc=0.80 + bump))
        p.append(metrics(tmp_path, f"AA{seed}", hf=A, he=A, level=1, seed=seed, acc=0.70 + bump))
        p.append(metrics(tmp_path, f"BB{seed}", hf=B, he=B, level=1, seed=seed, acc=0.60 + bump))
        p.append(metrics(tmp_path, f"BA{seed}", hf=B, he=A, level=1, seed=seed, acc=0.75 + bump))
        p.append(metrics(tmp_path, f"AB{seed}", hf=A, he=B, level=1, seed=seed, acc=0.50 + bump))
        p.append(metrics(tmp_path, f"g{seed}", kind="global_random", hf=None, he=A, level=1, seed=seed, acc=0.3))
        p.append(metrics(tmp_path, f"p{seed}", kind="preserve_lpr", hf=A, he=A, level=1, seed=seed, acc=0.4))
    return analysis.load_metrics(p, experiment="x")


def test_load_metrics_columns_and_values(table):
    assert list(table.columns) == analysis.COLUMNS
    assert len(table) == 16
    assert (table["experiment"] == "x").all()
    g = table[table["kind"] == "global_random"]
    assert (g["hfind"] == "").all() and g["lr_find"].isna().all() and not g["coupled"].any()
    ab = table[(table["hfind"] == A.slug) & (table["heval"] == B.slug)]
    assert len(ab) == 2 and not ab["coupled"].any()
    assert (ab["lr_find"] == 0.1).all() and (ab["lr_eval"] == 0.5).all() and (ab["bs_eval"] == 64).all()
    keys = list(zip(table["kind"], table["hfind"], table["heval"], table["seed"], table["level"]))
    assert keys == sorted(keys)


def test_load_metrics_names_a_broken_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=str(bad)):
        analysis.load_metrics([bad])


def test_write_summary_round_trip(table, tmp_path):
    paths = list(table["path"])
    out = tmp_path / "out" / "summary.csv"
    analysis.write_summary(paths, out, experiment="x")
    back = pd.read_csv(out)
    assert list(back.columns) == analysis.COLUMNS and len(back) == len(paths)


def test_line_frame_lottery_decoupled_starts_at_its_find_dense_run(table):
    df = analysis.line_frame(table, "lottery", B.slug, A.slug)
    assert sorted(zip(df["level"], df["heval"])) == [(0, B.slug), (0, B.slug), (1, A.slug), (1, A.slug)]
    assert set(df["hfind"]) == {B.slug}


def test_line_frame_coupled_and_baselines(table):
    df = analysis.line_frame(table, "lottery", A.slug, A.slug)
    assert sorted(df["level"]) == [0, 0, 1, 1] and (df["role"] == "train_find").all()
    g = analysis.line_frame(table, "global_random", None, A.slug)
    assert len(g) == 2 and (g["kind"] == "global_random").all()
    p = analysis.line_frame(table, "preserve_lpr", A.slug, A.slug)
    assert len(p) == 2 and (p["kind"] == "preserve_lpr").all()
    assert analysis.line_frame(table, "preserve_lpr", B.slug, A.slug).empty


def test_best_by_level(table):
    lines = [["lottery", f.slug, e.slug] for f in (A, B) for e in (A, B)]
    best = analysis.best_by_level(table, lines)
    pick = best.drop_duplicates(["group", "level"]).set_index(["group", "level"])["pair"].to_dict()
    # level 0: the dense runs of A (0.90) beat B (0.80) in both groups; level 1: B -> A (0.75) is the best
    # decoupled pair, A -> A (0.70) the best coupled one
    assert pick[("best coupled", 0)] == f"{A.slug} -> {A.slug}"
    assert pick[("best decoupled", 0)] == f"{A.slug} -> {B.slug}"
    assert pick[("best decoupled", 1)] == f"{B.slug} -> {A.slug}"
    assert pick[("best coupled", 1)] == f"{A.slug} -> {A.slug}"
    assert (best.groupby(["group", "level"]).size() == 2).all()  # both seeds of the chosen pair


def test_mean_curve():
    df = pd.DataFrame({"level": [0, 0, 1], "sparsity": [0.0, 0.0, 0.2], "test_accuracy": [0.8, 0.9, 0.5]})
    c = analysis.mean_curve(df)
    assert c["mean"].tolist() == pytest.approx([0.85, 0.5])
    assert c["std"].tolist() == pytest.approx([np.std([0.8, 0.9], ddof=1), 0.0])
    assert c["n"].tolist() == [2, 1]
    assert c["sparsity"].tolist() == pytest.approx([0.0, 0.2])


# --------------------------------------------------------------------------- the shared readers (issue 25, item 4)


def test_one_reader_serves_the_structured_table_and_names_what_a_file_lacks(tmp_path):
    """structured.plots.load_table reads through analysis.read_table: a run's row has the structured columns, and
    an A1 metrics file (no ratio) is refused with its name and the keys it lacks; a JSON list is refused too."""
    from findeval.structured import plots as splots

    m = {"kind": "finetune", "seed": 1, "ratio": 0.5, "channels_pruned": 0.5, "params_pruned": 0.6,
         "flops_pruned": 0.7, "test_accuracy": 0.8, "H_find": A.as_dict(), "H_eval": B.as_dict(), "params": 10}
    good = tmp_path / "s.json"
    good.write_text(json.dumps(m))
    t = splots.load_table([good], experiment="x")
    assert list(t.columns) == splots.COLUMNS and len(t) == 1
    assert (t.loc[0, "hfind"], t.loc[0, "heval"], t.loc[0, "ratio"], t.loc[0, "experiment"]) == (A.slug, B.slug, 0.5,
                                                                                                 "x")
    a1 = metrics(tmp_path, "a1")
    with pytest.raises(ValueError, match=r"a1\.json lacks ratio, channels_pruned.*not a structured run's"):
        splots.load_table([good, a1])
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        splots.load_table([listed])


def test_the_figure_line_check_names_the_file_that_is_another_run(tmp_path):
    """plotting.line_metrics yields each file of a line with its row, and stops at a file that is not the seed and
    level the planner named."""
    from findeval import plotting

    p0, p1 = metrics(tmp_path, "l1", level=1, seed=0), metrics(tmp_path, "l2", level=2, seed=0)
    line = {"files": [{"path": str(p0), "seed": 0, "level": 1}, {"path": str(p1), "seed": 0, "level": 2}]}
    got = [(f["level"], int(r["level"])) for f, r in plotting.line_metrics(line)]
    assert got == [(1, 1), (2, 2)]
    line["files"][1]["seed"] = 3
    with pytest.raises(ValueError, match=r"l2\.json is seed 0 level 2, expected seed 3 level 2"):
        list(plotting.line_metrics(line))


def test_the_label_helper_spells_what_a_panel_varies():
    from findeval import plotting

    assert plotting.h_label("lr", "find", A.slug, B.slug) == "LR_find = 0.1"
    assert plotting.h_label("lr", "eval", A.slug, B.slug) == "LR_eval = 0.5"
    assert plotting.h_label("lr", "all", A.slug, B.slug) == "LR_find = 0.1, LR_eval = 0.5"
    assert plotting.h_label("lr", "baselines", A.slug, B.slug) is None
