"""The pipeline steps run directly (no Snakemake) on a tiny model: A1 for two levels, baselines, file checks."""

import json

import h5py
import numpy as np
import pytest
import torch

from findeval import io, masks, models
from findeval.a1 import jobs
from findeval.hparams import H, run_seeds

MODEL = {"name": "resnet_cifar", "depth": 8, "width": 4}
TRAINING = {"epochs": 1, "schedule": "multistep", "milestones": [], "gamma": 0.2, "momentum": 0.9,
            "nesterov": False, "warmup_iters": 0, "label_smoothing": 0.0}
AUGMENT = {"crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333333], "flip": False}
HFIND = H(0.1, 128, 5e-4)
HEVAL = H(0.05, 256, 1e-4)
FRACTION = 0.5
SEED = 0


def run_chain(root):
    """prepare_data -> init -> train_find(0) -> prune(1) -> rewind(1) -> train_find(1) -> prune(2) -> rewind(2)."""
    p = {
        "data": root / "dataset.npz",
        "init": root / "seed0" / "init.pt",
        "reinit": root / "seed0" / "reinit.pt",
        "arch": root / "seed0" / "architecture.json",
    }
    for level in range(3):
        d = root / "find" / HFIND.slug / "seed0" / f"level{level}"
        p.update({f"trained{level}": d / "trained.pt", f"metrics{level}": d / "metrics.json",
                  f"mask{level}": d / "mask.h5", f"ticket{level}": d / "ticket.pt"})
    jobs.prepare_data(str(p["data"]), name="digits", test_fraction=0.2, split_seed=0)
    jobs.init(str(p["init"]), str(p["reinit"]), str(p["arch"]), model=MODEL, dataset="digits", seed=SEED)
    common = dict(data=str(p["data"]), kind="lottery", h_find=HFIND, h_eval=HFIND, seed=SEED, training=TRAINING,
                  augment=AUGMENT, role="train_find")
    jobs.train_run(str(p["metrics0"]), start=str(p["init"]), mask=None, level=0, out_trained=str(p["trained0"]),
                   **common)
    jobs.prune(str(p["mask1"]), trained=str(p["trained0"]), parent_mask=None, fraction=FRACTION, level=1, seed=SEED,
               h_find=HFIND)
    jobs.rewind(str(p["ticket1"]), start=str(p["init"]), mask=str(p["mask1"]))
    jobs.train_run(str(p["metrics1"]), start=str(p["ticket1"]), mask=str(p["mask1"]), level=1,
                   out_trained=str(p["trained1"]), **common)
    jobs.prune(str(p["mask2"]), trained=str(p["trained1"]), parent_mask=str(p["mask1"]), fraction=FRACTION, level=2,
               seed=SEED, h_find=HFIND)
    jobs.rewind(str(p["ticket2"]), start=str(p["init"]), mask=str(p["mask2"]))
    return p


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return run_chain(tmp_path_factory.mktemp("chain_a"))


@pytest.fixture(scope="module")
def chain_again(tmp_path_factory):
    return run_chain(tmp_path_factory.mktemp("chain_b"))


def test_init_outputs(chain):
    init, meta = io.load_checkpoint(chain["init"])
    reinit, _ = io.load_checkpoint(chain["reinit"])
    assert meta["model_spec"] == {**MODEL, "in_channels": 1, "num_classes": 10}
    assert meta["init_seed"] == run_seeds(SEED)["init"]
    assert not torch.equal(init["conv1.weight"], reinit["conv1.weight"])  # baselines get a new random init
    arch = json.loads(chain["arch"].read_text())
    model = models.build(meta["model_spec"])
    assert list(arch["prunable"]) == models.prunable_names(model)
    assert arch["prunable"]["conv1.weight"] == [4, 1, 3, 3]
    assert arch["parameters"] == models.count_parameters(model)


def test_mask_levels_follow_the_schedule(chain):
    m1, a1 = masks.load_mask(chain["mask1"])
    m2, a2 = masks.load_mask(chain["mask2"])
    init, meta = io.load_checkpoint(chain["init"])
    names = models.prunable_names(init)
    total = sum(init[n].numel() for n in names)
    kept = masks.kept_schedule(total, FRACTION, 2)
    assert list(m1) == names and list(m2) == names
    assert masks.n_kept(m1) == kept[1] and masks.n_kept(m2) == kept[2]
    masks.check_monotone(m2, m1)
    assert (a1["level"], a2["level"]) == (1, 2)
    assert a1["kind"] == "lottery" and a1["seed"] == SEED and H(**a1["H_find"]) == HFIND
    assert a1["fraction"] == pytest.approx(FRACTION)
    assert a1["seeds"] == run_seeds(SEED)
    assert a2["sparsity"] == pytest.approx(1 - kept[2] / total)
    # level 1 is the global magnitude mask of the dense weights trained at level 0
    trained0, _ = io.load_checkpoint(chain["trained0"])
    expected = masks.global_magnitude_prune(trained0, None, FRACTION)
    assert all(np.array_equal(expected[k], m1[k]) for k in names)


def test_ticket_is_init_times_mask(chain):
    init, _ = io.load_checkpoint(chain["init"])
    for level in (1, 2):
        ticket, meta = io.load_checkpoint(chain[f"ticket{level}"])
        m, _ = masks.load_mask(chain[f"mask{level}"])
        assert set(ticket) == set(init)
        for k, v in init.items():
            if k in m:
                assert torch.equal(ticket[k], v * torch.from_numpy(m[k]).to(v.dtype)), k
            else:
                assert torch.equal(ticket[k], v), k  # BN, fc and biases are rewound unmasked
        assert meta["role"] == "ticket" and meta["level"] == level and meta["rewound_from"] == "init.pt"


def test_trained_weights_respect_the_mask(chain):
    trained1, meta = io.load_checkpoint(chain["trained1"])
    m1, _ = masks.load_mask(chain["mask1"])
    for k, m in m1.items():
        assert torch.all(trained1[k][torch.from_numpy(~m)] == 0.0), k
    assert meta["role"] == "trained" and meta["level"] == 1 and H(**meta["H"]) == HFIND


def test_metrics_fields(chain):
    m0 = json.loads(chain["metrics0"].read_text())
    m1 = json.loads(chain["metrics1"].read_text())
    for level, m in ((0, m0), (1, m1)):
        assert m["kind"] == "lottery" and m["role"] == "train_find"
        assert m["level"] == level and m["seed"] == SEED
        assert m["seeds"] == run_seeds(SEED)
        assert H(**m["H_find"]) == HFIND and H(**m["H_eval"]) == HFIND
        assert 0.0 <= m["test_accuracy"] <= 1.0
        assert m["diverged"] is False and m["epochs"] == 1 and m["epochs_completed"] == 1
        assert len(m["history"]) == 1 and m["history"][0]["test_accuracy"] == m["test_accuracy"]
        assert m["model"] == {**MODEL, "in_channels": 1, "num_classes": 10}
        assert m["iterations_per_epoch"] == 12  # 1438 training images in batches of 128 (last one 30)
    assert m0["sparsity"] == 0.0
    mask1, _ = masks.load_mask(chain["mask1"])
    assert m1["sparsity"] == pytest.approx(masks.sparsity(mask1))
    assert m1["zero_fraction"] >= m1["sparsity"]


def test_same_seed_gives_the_same_masks_and_results(chain, chain_again):
    for level in (1, 2):
        a, b = chain[f"mask{level}"], chain_again[f"mask{level}"]
        with h5py.File(a) as fa, h5py.File(b) as fb:
            assert list(fa) == list(fb)
            for k in fa:
                assert fa[k][()].tobytes() == fb[k][()].tobytes()
        assert a.read_bytes() == b.read_bytes()
    for level in (0, 1):
        ma = json.loads(chain[f"metrics{level}"].read_text())
        mb = json.loads(chain_again[f"metrics{level}"].read_text())
        assert ma["test_accuracy"] == mb["test_accuracy"]
        assert ma["history"][0]["train_loss"] == mb["history"][0]["train_loss"]
        ta, _ = io.load_checkpoint(chain[f"trained{level}"])
        tb, _ = io.load_checkpoint(chain_again[f"trained{level}"])
        assert all(torch.equal(ta[k], tb[k]) for k in ta)


def test_eval_run_of_a_lottery_mask(chain, tmp_path):
    out = tmp_path / "eval.json"
    m = jobs.train_run(str(out), start=str(chain["ticket2"]), mask=str(chain["mask2"]), data=str(chain["data"]),
                       kind="lottery", h_find=HFIND, h_eval=HEVAL, level=2, seed=SEED, training=TRAINING,
                       augment=AUGMENT, role="train_eval")
    on_disk = json.loads(out.read_text())
    assert on_disk["H_find"] == HFIND.as_dict() and on_disk["H_eval"] == HEVAL.as_dict()
    assert on_disk["role"] == "train_eval" and on_disk["level"] == 2
    assert on_disk["test_accuracy"] == m["test_accuracy"]
    assert not list(tmp_path.glob("*.pt"))  # eval runs keep no weights


def test_coupled_eval_equals_the_find_run(chain, tmp_path):
    """The reason coupled evaluations are not planned: training the ticket with H_find again is the find run."""
    out = tmp_path / "coupled.json"
    m = jobs.train_run(str(out), start=str(chain["ticket1"]), mask=str(chain["mask1"]), data=str(chain["data"]),
                       kind="lottery", h_find=HFIND, h_eval=HFIND, level=1, seed=SEED, training=TRAINING,
                       augment=AUGMENT, role="train_eval")
    find = json.loads(chain["metrics1"].read_text())
    assert m["test_accuracy"] == find["test_accuracy"]
    assert m["history"][0]["train_loss"] == find["history"][0]["train_loss"]


def test_random_baseline_masks(chain, tmp_path):
    init, _ = io.load_checkpoint(chain["init"])
    total = sum(init[n].numel() for n in models.prunable_names(init))
    g = tmp_path / "global.h5"
    jobs.global_random_mask(str(g), architecture=str(chain["arch"]), fraction=FRACTION, level=2, seed=SEED)
    gm, ga = masks.load_mask(g)
    assert masks.n_kept(gm) == masks.kept_schedule(total, FRACTION, 2)[2]
    assert ga["kind"] == "global_random" and ga["H_find"] is None and ga["level"] == 2
    assert ga["seeds"] == run_seeds(SEED, "global_random", 2)
    p = tmp_path / "lpr.h5"
    jobs.preserve_lpr_mask(str(p), lottery_mask=str(chain["mask2"]), level=2, seed=SEED)
    pm, pa = masks.load_mask(p)
    lottery, _ = masks.load_mask(chain["mask2"])
    assert masks.lpr(pm) == masks.lpr(lottery)
    assert pa["kind"] == "preserve_lpr" and H(**pa["H_find"]) == HFIND and pa["level"] == 2
    assert pa["layer_pruned"] == [r["pruned"] for r in masks.layer_table(lottery)]


def test_prune_refuses_a_parent_of_the_wrong_level(chain, tmp_path):
    with pytest.raises(masks.MaskError, match="level"):
        jobs.prune(str(tmp_path / "m.h5"), trained=str(chain["trained1"]), parent_mask=str(chain["mask2"]),
                   fraction=FRACTION, level=2, seed=SEED, h_find=HFIND)
    assert not (tmp_path / "m.h5").exists()


def test_train_run_refuses_a_mask_of_the_wrong_level(chain, tmp_path):
    with pytest.raises(masks.MaskError, match="level"):
        jobs.train_run(str(tmp_path / "x.json"), start=str(chain["ticket1"]), mask=str(chain["mask2"]),
                       data=str(chain["data"]), kind="lottery", h_find=HFIND, h_eval=HFIND, level=1, seed=SEED,
                       training=TRAINING, augment=AUGMENT, role="train_eval")
    assert not (tmp_path / "x.json").exists()


def test_rewind_refuses_a_mask_of_another_architecture(chain, tmp_path):
    other = models.init_model({"name": "resnet_cifar", "depth": 8, "width": 2, "in_channels": 1, "num_classes": 10}, 0)
    mask = masks.global_magnitude_prune(other.state_dict(), None, 0.5)
    path = tmp_path / "other.h5"
    masks.save_mask(path, mask, kind="lottery", level=1, seed=0)
    with pytest.raises(masks.MaskError, match="another architecture"):
        jobs.rewind(str(tmp_path / "t.pt"), start=str(chain["init"]), mask=str(path))
    assert not (tmp_path / "t.pt").exists()


# --------------------------------------------------------------------------- checkpoints


class NotAStateDict:
    def __init__(self):
        self.weights = torch.zeros(2)


@pytest.mark.parametrize(
    "payload",
    [
        lambda: torch.nn.Linear(2, 2),  # a pickled module
        lambda: NotAStateDict(),  # a custom class
        lambda: {"model": {"w": NotAStateDict()}, "meta": {}},  # a custom object inside the findeval layout
    ],
    ids=["module", "custom-class", "custom-in-dict"],
)
def test_load_checkpoint_refuses_pickled_objects(tmp_path, payload):
    path = tmp_path / "bad.pt"
    torch.save(payload(), path)
    with pytest.raises(io.CheckpointError) as err:
        io.load_checkpoint(path)
    assert str(path) in str(err.value)


def test_load_checkpoint_refuses_other_layouts(tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), bare)  # a plain state dict, but not findeval's format
    with pytest.raises(io.CheckpointError, match="'model'"):
        io.load_checkpoint(bare)
    nontensor = tmp_path / "nontensor.pt"
    torch.save({"model": {"w": 3}, "meta": {}}, nontensor)
    with pytest.raises(io.CheckpointError, match="not tensors: w"):
        io.load_checkpoint(nontensor)
    with pytest.raises(io.CheckpointError, match="not found"):
        io.load_checkpoint(tmp_path / "missing.pt")


def test_load_checkpoint_refuses_truncated_files(chain, tmp_path):
    path = tmp_path / "trunc.pt"
    data = chain["init"].read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(io.CheckpointError, match="unreadable") as err:
        io.load_checkpoint(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_load_checkpoint_refuses_nonfinite_weights(tmp_path, bad):
    path = tmp_path / "nan.pt"
    state = {"conv1.weight": torch.ones(2, 1, 3, 3), "bn1.num_batches_tracked": torch.tensor(3)}
    state["conv1.weight"][0, 0, 0, 0] = bad
    io.save_checkpoint(path, state, {"role": "trained"})
    with pytest.raises(io.CheckpointError, match="conv1.weight"):
        io.load_checkpoint(path)
    loaded, meta = io.load_checkpoint(path, require_finite=False)
    assert meta == {"role": "trained"} and torch.isnan(loaded["conv1.weight"]).any() == (bad != bad)


def test_prune_refuses_a_diverged_checkpoint(chain, tmp_path):
    state, meta = io.load_checkpoint(chain["trained0"])
    state = dict(state)
    state["layer1.0.conv1.weight"] = state["layer1.0.conv1.weight"].clone()
    state["layer1.0.conv1.weight"].view(-1)[0] = float("nan")
    bad = tmp_path / "trained.pt"
    io.save_checkpoint(bad, state, meta)
    with pytest.raises(io.CheckpointError, match="NaN"):
        jobs.prune(str(tmp_path / "mask.h5"), trained=str(bad), parent_mask=None, fraction=FRACTION, level=1,
                   seed=SEED, h_find=HFIND)
    assert not (tmp_path / "mask.h5").exists()


def test_checkpoint_round_trip_and_atomic_write(tmp_path):
    path = tmp_path / "a" / "b.pt"
    state = {"w": torch.arange(4.0), "n": torch.tensor(2)}
    io.save_checkpoint(path, state, {"x": 1})
    loaded, meta = io.load_checkpoint(path)
    assert meta == {"x": 1} and all(torch.equal(loaded[k], state[k]) for k in state)
    assert [p.name for p in path.parent.iterdir()] == ["b.pt"]
    with pytest.raises(RuntimeError):
        with io.atomic_path(tmp_path / "c.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.glob("*c.txt*")) == []


def test_write_json_records_nonfinite_as_null_when_asked(tmp_path):
    io.write_json(tmp_path / "m.json", {"loss": io.finite_or_none(float("nan")), "acc": np.float32(0.5),
                                        "h": H(0.1, 64, 5e-4)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"loss": None, "acc": 0.5,
                                                             "h": {"lr": 0.1, "batch_size": 64, "weight_decay": 5e-4}}
