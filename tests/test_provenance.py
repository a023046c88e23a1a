"""Provenance: every reader checks that a results file is the one its path names (findeval.provenance).

A small real results tree (Algorithm A1 on digits, a width-4 ResNet, 1 epoch: two find chains lr0.05 and lr0.1 of
2 levels, their lottery and preserve-LPR evaluations, the global random masks) is built once with the job
functions the rules run. Each case copies one valid file into a path that names another run (the foreign file),
then calls the reader of the job or figure that uses it: the reader must refuse it with a ProvenanceError naming
the file, what it says and what its path says, before anything is written; the foreign file is left as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from findeval import analysis, io, masks, paths, provenance, training
from findeval.a1 import jobs
from findeval.hparams import H
from findeval.lpr import plan as lpr_plan

MODEL = {"name": "resnet_cifar", "depth": 8, "width": 4}
TRAINING = {"epochs": 1, "milestones": [], "gamma": 0.2}
H05, H1, H2 = H(0.05, 128, 5e-4), H(0.1, 128, 5e-4), H(0.2, 128, 5e-4)
EXP = "t"


class Tree:
    """The results tree under ``root`` (the working directory of a run): ``path(paths.fn, ...)``."""

    def __init__(self, root: Path):
        self.root = root

    def __call__(self, rel: str) -> Path:
        return self.root / rel

    def find(self, h, level, kind, seed=0):
        return self(paths.find_file(EXP, h.slug, seed, level, kind))

    def eval(self, source, heval, level, seed=0):
        return self(paths.level_file(paths.eval_sweep(EXP, source, heval.slug, seed), level, "metrics"))


def _chain(tree: Tree, h: H) -> None:
    f = lambda level, kind: str(tree.find(h, level, kind))  # noqa: E731
    jobs.find_chain(trained={L: f(L, "trained") for L in (0, 1, 2)}, metrics={L: f(L, "metrics") for L in (0, 1, 2)},
                    masks_out={L: f(L, "mask") for L in (1, 2)}, tickets={L: f(L, "ticket") for L in (1, 2)},
                    h_find=h, init=str(tree(paths.init(EXP, 0))), data=str(tree(paths.data(EXP))), seed=0,
                    fraction=0.5, training=TRAINING, augment=None)


def _evals(tree: Tree, kind: str, h_find: H | None, h_eval: H, starts: dict, masks_in: dict) -> None:
    source = "global_random" if kind == "global_random" else f"{kind}/{h_find.slug}"
    jobs.eval_sweep(metrics={L: str(tree.eval(source, h_eval, L)) for L in (1, 2)}, starts=starts,
                    masks_in=masks_in, data=str(tree(paths.data(EXP))), kind=kind, h_find=h_find, h_eval=h_eval,
                    seed=0, training=TRAINING, augment=None)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    t = Tree(tmp_path_factory.mktemp("prov"))
    jobs.prepare_data(str(t(paths.data(EXP))), name="digits")
    jobs.init(str(t(paths.init(EXP, 0))), str(t(paths.reinit(EXP, 0))), str(t(paths.architecture(EXP, 0))),
              model=MODEL, dataset="digits", seed=0)
    for h in (H05, H1):
        _chain(t, h)
        lottery = {L: str(t.find(h, L, "mask")) for L in (1, 2)}
        shuffled = {L: str(t(paths.level_file(paths.preserve_lpr_masks(EXP, h.slug, 0), L, "mask"))) for L in (1, 2)}
        jobs.preserve_lpr_masks(shuffled, lottery_masks=lottery, seed=0)
        _evals(t, "lottery", h, {H05: H1, H1: H2}[h], {L: str(t.find(h, L, "ticket")) for L in (1, 2)}, lottery)
        _evals(t, "preserve_lpr", h, h, {L: str(t(paths.reinit(EXP, 0))) for L in (1, 2)}, shuffled)
    rnd = {L: str(t(paths.level_file(paths.global_random_masks(EXP, 0), L, "mask"))) for L in (1, 2)}
    jobs.global_random_masks(rnd, architecture=str(t(paths.architecture(EXP, 0))), fraction=0.5, seed=0)
    return t


@pytest.fixture
def no_training(monkeypatch):
    def tripwire(*args, **kwargs):
        raise AssertionError("training started with a foreign input")

    monkeypatch.setattr(training, "train", tripwire)


def _read(path: Path):
    """The reader every job and figure uses for a file of this name."""
    if path.name == "mask.h5":
        return masks.load_mask(path)
    if path.name.endswith(".pt"):
        return io.load_checkpoint(path)
    return analysis.load_metrics([str(path)])


def test_every_file_of_a_real_tree_is_the_one_its_path_names(tree):
    """No false alarm: each mask, checkpoint and metrics file passes every reader; each names what it is."""
    checked = 0
    for path in sorted(tree.root.rglob("*")):
        claims = provenance.named(path)
        if not claims:
            continue
        _read(path)
        if path.name == "mask.h5":
            masks.read_lpr(path)
        if path.name == "metrics.json":
            io.read_json(path)
        checked += 1
        assert claims["experiment"] == EXP and "seed" in claims, (path, claims)
    assert checked == 36  # 2 chains x (3 trained + 3 metrics + 2 masks + 2 tickets), 4 shuffled + 2 random masks,
    # 8 evaluations, init and reinit


def test_the_path_grammar(tree):
    m = provenance.named(tree.eval(f"lottery/{H05.slug}", H1, 1))
    assert m == {"file": "metrics", "experiment": EXP, "seed": 0, "level": 1, "H_find": H05, "H_eval": H1,
                 "kind": "lottery"}
    assert provenance.named(tree.eval("global_random", H1, 2))["H_eval"] == H1
    assert "H_find" not in provenance.named(tree.eval("global_random", H1, 2))
    lpr = provenance.named(f"results/x/eval/matched/{H05.slug}/match-{H1.slug}/{H2.slug}/seed3/level4/metrics.json")
    assert (lpr["H_find"], lpr["H_eval"], lpr["kind"], lpr["seed"], lpr["level"]) == (H05, H2, "match_lpr", 3, 4)
    assert lpr["H_ref"] == H1
    early = provenance.named(paths.level_file(paths.early_eval("x", H05.slug, 7, H1.slug, 0), 1, "metrics"))
    assert (early["H_find"], early["H_eval"], early["prune_epoch"], "kind" in early) == (H05, H1, 7, False)
    late = provenance.named(f"results/x/late/k2/eval/{H05.slug}/{H1.slug}/seed0/level1/metrics.json")
    assert (late["H_find"], late["H_eval"], "kind" in late) == (H05, H1, False)
    assert provenance.named(f"results/x/find_local/{H1.slug}/seed0/level2/mask.h5")["kind"] == "local"
    assert provenance.named("elsewhere/mask.h5") == {}  # outside the layout: nothing named, nothing checked
    assert provenance.named(f"results/x/find/{H1.slug}/seed0/level1/copy_b.pt") == {}


def _foreign(tmp, source: Path, target: Path) -> bytes:
    """Copy ``source`` over ``target`` (keeping the original aside, restored by the fixture); its bytes."""
    keep = tmp / "originals" / target.relative_to(target.anchor)
    keep.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.copy2(target, keep)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target.read_bytes()


@pytest.fixture
def swap(tree, tmp_path):
    """``swap(source, target)``: the foreign copy; every target is restored after the test."""
    done = []

    def do(source: Path, target: Path) -> bytes:
        done.append(target)
        return _foreign(tmp_path, source, target)

    yield do
    for target in done:
        keep = tmp_path / "originals" / target.relative_to(target.anchor)
        if keep.exists():
            shutil.copyfile(keep, target)
        else:
            target.unlink()


def _refused(target: Path, *needles):
    """pytest.raises(ProvenanceError) whose message names the target file and every needle."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(provenance.ProvenanceError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self.ctx.__exit__(*exc)
            msg = str(self.info.value)
            assert str(target) in msg and "the file says" in msg and "its path says" in msg, msg
            for needle in needles:
                assert needle in msg, f"{needle!r} not in {msg}"
            return suppressed

    return Check()


# --------------------------------------------------------------------------- metrics (aggregate, figures)


def test_level1_metrics_of_another_pair_as_a_level2_point(tree, swap, tmp_path):
    """The issue's fig2 case: a level-1 lr0.05 -> lr0.1 result in the lr0.1 -> lr0.2 level-2 folder."""
    source, target = tree.eval(f"lottery/{H05.slug}", H1, 1), tree.eval(f"lottery/{H1.slug}", H2, 2)
    copied = swap(source, target)
    out = tmp_path / "summary.csv"
    good = [str(tree.eval(f"lottery/{H1.slug}", H2, 1))]
    with _refused(target, "level 1", f"H_find {H05.slug}", f"H_eval {H1.slug}", "level 2", f"H_find {H1.slug}",
                  f"H_eval {H2.slug}"):
        analysis.write_summary(good + [str(target)], str(out), experiment=EXP)
    assert not out.exists() and target.read_bytes() == copied  # nothing written, nothing overwritten
    with _refused(target):
        io.read_json(target)  # the rewinding/instability figures' reader


def test_metrics_of_another_replicate(tree, swap):
    target = tree(str(tree.eval(f"lottery/{H05.slug}", H1, 1).relative_to(tree.root)).replace("seed0", "seed1"))
    swap(tree.eval(f"lottery/{H05.slug}", H1, 1), target)
    with _refused(target, "seed 0", "seed 1"):
        analysis.load_metrics([str(target)])


def test_metrics_of_another_kind(tree, swap):
    """A preserve-LPR baseline in the lottery folder of the same (H_find, H_eval): only the kind differs."""
    target = tree.eval(f"lottery/{H1.slug}", H1, 1)
    swap(tree.eval(f"preserve_lpr/{H1.slug}", H1, 1), target)
    with _refused(target, "kind 'preserve_lpr'", "kind 'lottery'"):
        analysis.load_metrics([str(target)])


def test_find_metrics_of_another_chain(tree, swap):
    target = tree.find(H1, 1, "metrics")
    swap(tree.find(H05, 1, "metrics"), target)
    with _refused(target, f"H_find {H05.slug}", f"H_find {H1.slug}"):
        analysis.load_metrics([str(target)])


def test_find_metrics_of_another_level(tree, swap):
    target = tree.find(H1, 2, "metrics")
    swap(tree.find(H1, 1, "metrics"), target)
    with _refused(target, "level 1", "level 2"):
        analysis.load_metrics([str(target)])


def test_structured_table_refuses_another_kind(tmp_path):
    from findeval.structured import plots

    record = {"kind": "finetune", "role": "finetune_structured", "ratio": 0.3, "seed": 0,
              "H_find": H1.as_dict(), "H_eval": H2.as_dict(), "test_accuracy": 0.5}
    target = tmp_path / paths.structured_run(EXP, "scratch_e", H1.slug, H2.slug, 0, "0.3")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(record))
    with _refused(target, "kind 'finetune'", "kind 'scratch_e'"):
        plots.load_table([str(target)])


# --------------------------------------------------------------------------- masks


def test_mask_of_the_lr005_chain_in_the_lr01_chain(tree, swap, no_training, tmp_path):
    """The issue's case: the eval job of the lr0.1 chain refuses it before training; nothing is written."""
    target = tree.find(H1, 1, "mask")
    copied = swap(tree.find(H05, 1, "mask"), target)
    out = tmp_path / "eval" / "metrics.json"
    with _refused(target, f"H_find {H05.slug}", f"H_find {H1.slug}"):
        jobs.eval_sweep(metrics={1: str(out)}, starts={1: str(tree.find(H1, 1, "ticket"))}, masks_in={1: str(target)},
                        data=str(tree(paths.data(EXP))), kind="lottery", h_find=H1, h_eval=H2, seed=0,
                        training=TRAINING, augment=None)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    assert target.read_bytes() == copied
    shuffled = tmp_path / "shuffled" / "mask.h5"
    with _refused(target):  # and the preserve-LPR job that shuffles it
        jobs.preserve_lpr_mask(str(shuffled), lottery_mask=str(target), level=1, seed=0)
    assert not shuffled.exists()
    with _refused(target):  # and the LPR figures' reader
        masks.read_lpr(target)


def test_mask_of_another_level_to_prune_from(tree, swap, tmp_path):
    """The prune job of level 2 reads the chain's level-1 mask: a level-2 mask there is refused."""
    target = tree.find(H1, 1, "mask")
    swap(tree.find(H1, 2, "mask"), target)
    out = tmp_path / "mask.h5"
    with _refused(target, "level 2", "level 1"):
        jobs.prune(str(out), trained=str(tree.find(H1, 1, "trained")), parent_mask=str(target), fraction=0.5,
                   level=2, seed=0, h_find=H1)
    assert not out.exists()


def test_mask_of_another_replicate(tree, swap):
    target = tree(paths.find_file(EXP, H1.slug, 1, 1, "mask"))
    swap(tree.find(H1, 1, "mask"), target)
    with _refused(target, "seed 0", "seed 1"):
        masks.load_mask(target)


def test_preserve_lpr_mask_in_the_find_chain(tree, swap):
    """Same H_find, replicate and level: only the kind tells the shuffled mask from the lottery one."""
    target = tree.find(H1, 1, "mask")
    swap(tree(paths.level_file(paths.preserve_lpr_masks(EXP, H1.slug, 0), 1, "mask")), target)
    with _refused(target, "kind 'preserve_lpr'", "kind 'lottery'"):
        masks.load_mask(target)


def test_global_random_mask_as_a_preserve_lpr_mask(tree, swap):
    target = tree(paths.level_file(paths.preserve_lpr_masks(EXP, H1.slug, 0), 2, "mask"))
    swap(tree(paths.level_file(paths.global_random_masks(EXP, 0), 2, "mask")), target)
    with _refused(target, "kind 'global_random'", "H_find None", "kind 'preserve_lpr'", f"H_find {H1.slug}"):
        masks.load_mask(target)


# --------------------------------------------------------------------------- tickets and checkpoints


def test_ticket_rewound_with_another_mask(tree, swap, no_training, tmp_path):
    """The lr0.05 chain's level-1 ticket in the lr0.1 chain: its meta (replicate, level, role) is the same, but it
    is nonzero where the lr0.1 mask prunes."""
    target = tree.find(H1, 1, "ticket")
    copied = swap(tree.find(H05, 1, "ticket"), target)
    out = tmp_path / "metrics.json"
    with pytest.raises(provenance.ProvenanceError) as err:
        jobs.train_run(str(out), start=str(target), mask=str(tree.find(H1, 1, "mask")),
                       data=str(tree(paths.data(EXP))), kind="lottery", h_find=H1, h_eval=H2, level=1, seed=0,
                       training=TRAINING, augment=None, role="train_eval")
    msg = str(err.value)
    assert f"{target} is not the ticket of mask {tree.find(H1, 1, 'mask')}" in msg and "nonzero where the mask prunes" in msg
    assert not out.exists() and target.read_bytes() == copied


def test_ticket_of_another_level(tree, swap):
    target = tree.find(H1, 1, "ticket")
    swap(tree.find(H1, 2, "ticket"), target)
    with _refused(target, "level 2", "level 1"):
        io.load_checkpoint(target)


def test_trained_weights_of_another_chain_to_prune(tree, swap, tmp_path):
    """The prune job of the lr0.1 chain reads its level-0 weights: the lr0.05 chain's are refused (H)."""
    target = tree.find(H1, 0, "trained")
    swap(tree.find(H05, 0, "trained"), target)
    out = tmp_path / "mask.h5"
    with _refused(target, f"H (trained with) {H05.slug}", f"H (trained with) {H1.slug}"):
        jobs.prune(str(out), trained=str(target), parent_mask=None, fraction=0.5, level=1, seed=0, h_find=H1)
    assert not out.exists()


def test_reinit_as_init(tree, swap, tmp_path):
    target = tree(paths.init(EXP, 0))
    swap(tree(paths.reinit(EXP, 0)), target)
    with pytest.raises(provenance.ProvenanceError, match="role 'reinit'.*its name says 'init'"):
        jobs.rewind(str(tmp_path / "ticket.pt"), start=str(target), mask=str(tree.find(H1, 1, "mask")))
    assert not (tmp_path / "ticket.pt").exists()


def test_init_of_another_replicate(tree, swap):
    target = tree(paths.init(EXP, 3))
    swap(tree(paths.init(EXP, 0)), target)
    with _refused(target, "replicate 0", "replicate 3"):
        io.load_checkpoint(target)


# --------------------------------------------------------------------------- the analyses' own keys (hand-built)


def _record(**keys) -> dict:
    return {"role": "train_eval", "seed": 0, "level": 1, "sparsity": 0.5, "test_accuracy": 0.5, **keys}


def test_match_lpr_metrics_of_another_reference(tmp_path):
    """An LPR-constrained evaluation whose chain matched another H_ref's LPR."""
    chain = lpr_plan.chain_name("match_lpr", H05.slug, H2.slug, find=False)
    target = tmp_path / paths.level_file(paths.eval_sweep(EXP, chain, H1.slug, 0), 1, "metrics")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(_record(kind="match_lpr", H_find=H05.as_dict(), H_eval=H1.as_dict(),
                                         H_ref=H1.as_dict())))
    with _refused(target, f"H_ref {H1.slug}", f"H_ref {H2.slug}"):
        analysis.load_metrics([str(target)])


def test_early_pruning_metrics_of_another_prune_epoch(tmp_path):
    target = tmp_path / paths.level_file(paths.early_eval(EXP, H05.slug, 3, H1.slug, 0), 1, "metrics")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(_record(kind="early", H_find=H05.as_dict(), H_eval=H1.as_dict(), prune_epoch=1)))
    with _refused(target, "prune_epoch 1", "prune_epoch 3"):
        analysis.load_metrics([str(target)])
