"""Masks: exact pruning counts, global magnitude pruning, random baselines, LPR and the HDF5 file format.

Pure NumPy (and h5py for the files): no torch, fast.
"""

import json
import math

import h5py
import numpy as np
import pytest

from findeval import masks
from findeval.hparams import H
from findeval.masks import MaskError

SHAPES = {"conv1.weight": (4, 1, 3, 3), "layer1.0.conv1.weight": (4, 4, 3, 3), "fc_like.weight": (6, 4, 1, 1)}


def random_weights(shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def flat(mask_or_weights):
    return np.concatenate([np.asarray(v).ravel() for v in mask_or_weights.values()])


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    "remaining, fraction, k",
    [
        (19144, 0.2, 3829),  # 3828.8 -> 3829
        (10, 0.2, 2),
        (3, 0.5, 2),  # 1.5 rounds half up
        (5, 0.5, 3),  # 2.5 rounds half up (not to even)
        (7, 0.5, 4),
        (1, 0.5, 1),
        (1, 0.2, 0),
        (2, 0.25, 1),  # 0.5 -> 1
        (6, 0.25, 2),  # 1.5 -> 2
        (100, 0.2, 20),
        (0, 0.2, 0),
        (12, 0.1, 1),  # 1.2 -> 1
        (15, 0.1, 2),  # 1.5 -> 2 (0.1 is exactly one tenth here, not the binary float)
    ],
)
def test_prune_count(remaining, fraction, k):
    assert masks.prune_count(remaining, fraction) == k


@pytest.mark.parametrize("fraction", [0, 1, -0.2, 1.5])
def test_prune_count_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError):
        masks.prune_count(100, fraction)


def test_kept_schedule_exact():
    assert masks.kept_schedule(19144, 0.2, 3) == [19144, 15315, 12252, 9802]
    assert masks.kept_schedule(10, 0.5, 4) == [10, 5, 2, 1, 0]
    assert masks.kept_schedule(100, 0.2, 0) == [100]


def test_kept_schedule_follows_prune_count():
    kept = masks.kept_schedule(19144, 0.2, 14)
    assert len(kept) == 15
    for a, b in zip(kept, kept[1:]):
        assert a - b == masks.prune_count(a, 0.2)
    assert abs(kept[-1] / 19144 - 0.8**14) < 1e-3  # density ~ (1 - p)^L


# --------------------------------------------------------------------------- global magnitude pruning


def test_global_magnitude_prune_removes_k_smallest_each_level():
    w = random_weights(seed=1)
    total = sum(math.prod(s) for s in SHAPES.values())
    schedule = masks.kept_schedule(total, 0.2, 6)
    mask = None
    scores = np.abs(flat(w))
    for level in range(1, 7):
        new = masks.global_magnitude_prune(w, mask, 0.2)
        assert list(new) == list(SHAPES)  # network order
        assert all(new[k].shape == SHAPES[k] and new[k].dtype == np.bool_ for k in SHAPES)
        assert masks.n_kept(new) == schedule[level]
        old_flat = np.ones(total, bool) if mask is None else flat(mask)
        new_flat = flat(new)
        assert not (new_flat & ~old_flat).any()  # monotone: nothing re-enters
        removed = old_flat & ~new_flat
        assert removed.sum() == schedule[level - 1] - schedule[level]
        # the removed ones are the smallest |w| among those that were still kept
        assert scores[removed].max() <= scores[new_flat].min()
        if mask is not None:
            masks.check_monotone(new, mask)
        mask = new
    assert masks.sparsity(mask) == pytest.approx(1 - schedule[-1] / total)


def test_global_magnitude_prune_is_global_not_layerwise():
    # all weights of the second tensor are tiny: it is pruned first, entirely, before any of the others
    w = {"a.weight": np.full((2, 2, 1, 1), 5.0, np.float32), "b.weight": np.full((2, 2, 1, 1), 1e-3, np.float32)}
    m = masks.global_magnitude_prune(w, None, 0.5)
    assert m["a.weight"].all() and not m["b.weight"].any()


def test_ties_broken_by_network_order_then_position():
    w = {"first.weight": np.ones((2, 1, 2, 1), np.float32), "second.weight": np.ones((3, 1, 1, 1), np.float32)}
    m1 = masks.global_magnitude_prune(w, None, 0.5)  # 7 weights: removes 4 = first tensor's 4
    assert not m1["first.weight"].any() and m1["second.weight"].all()
    w2 = {"x.weight": -np.ones((1, 1, 2, 3), np.float32)}  # |w| equal, negative values
    m2 = masks.global_magnitude_prune(w2, None, 0.5)
    assert m2["x.weight"].ravel().tolist() == [False, False, False, True, True, True]
    m3 = masks.global_magnitude_prune(w2, m2, 0.5)  # 3 remaining -> remove 2 (1.5 rounds up)
    assert m3["x.weight"].ravel().tolist() == [False, False, False, False, False, True]


def test_pruned_weights_never_reenter_even_if_large():
    w = random_weights(seed=2)
    m1 = masks.global_magnitude_prune(w, None, 0.5)
    # make every pruned weight huge: it must stay pruned; the kept ones are pruned among themselves
    w_big = {k: np.where(m1[k], w[k], 1e6).astype(np.float32) for k in w}
    m2 = masks.global_magnitude_prune(w_big, m1, 0.5)
    masks.check_monotone(m2, m1)
    assert masks.n_kept(m2) == masks.n_kept(m1) - masks.prune_count(masks.n_kept(m1), 0.5)


def test_pruning_zeroed_weights_of_a_trained_net():
    # after masked training the pruned weights are exactly 0, the smallest |w| of all: still never candidates
    w = random_weights(seed=3)
    m1 = masks.global_magnitude_prune(w, None, 0.2)
    trained = {k: w[k] * m1[k] for k in w}
    m2 = masks.global_magnitude_prune(trained, m1, 0.2)
    assert masks.n_kept(m1) - masks.n_kept(m2) == masks.prune_count(masks.n_kept(m1), 0.2)
    masks.check_monotone(m2, m1)


def test_dense_mask_from_state_dict_skips_non_conv():
    w = random_weights()
    state = {**w, "bn1.weight": np.ones(4, np.float32), "fc.weight": np.zeros((10, 4), np.float32),
             "fc.bias": np.zeros(10, np.float32)}
    m = masks.global_magnitude_prune(state, None, 0.2)
    assert list(m) == list(SHAPES)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_weights_raise(bad):
    w = random_weights()
    w["layer1.0.conv1.weight"][0, 0, 0, 0] = bad
    with pytest.raises(MaskError, match="layer1.0.conv1.weight"):
        masks.global_magnitude_prune(w, None, 0.2)


def test_prune_rejects_missing_or_misshapen_weights():
    m = masks.ones_like(SHAPES)
    w = random_weights()
    with pytest.raises(MaskError, match="conv1.weight"):
        masks.global_magnitude_prune({k: v for k, v in w.items() if k != "conv1.weight"}, m, 0.2)
    w["conv1.weight"] = np.ones((4, 1, 5, 5), np.float32)
    with pytest.raises(MaskError, match="conv1.weight"):
        masks.global_magnitude_prune(w, m, 0.2)


def test_global_magnitude_prune_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    w = random_weights(seed=4)
    m_np = masks.global_magnitude_prune(w, None, 0.3)
    m_t = masks.global_magnitude_prune({k: torch.from_numpy(v) for k, v in w.items()}, None, 0.3)
    assert all(np.array_equal(m_np[k], m_t[k]) for k in w)


def test_layer_count_prune_hits_every_target():
    w = random_weights(seed=5)
    parent = masks.global_magnitude_prune(w, None, 0.2)
    targets = {k: int(parent[k].sum()) // 2 for k in parent}
    targets["conv1.weight"] = 0
    child = masks.layer_count_prune(w, parent, targets)
    for k in parent:
        assert int(child[k].sum()) == targets[k]
        kept_scores = np.abs(w[k])[child[k]]
        removed = parent[k] & ~child[k]
        if kept_scores.size and removed.any():
            assert np.abs(w[k])[removed].max() <= kept_scores.min()
    masks.check_monotone(child, parent)
    with pytest.raises(MaskError):
        masks.layer_count_prune(w, parent, {**targets, "conv1.weight": int(parent["conv1.weight"].sum()) + 1})


# --------------------------------------------------------------------------- random baselines


def test_global_random_mask_exact_count_and_seeded():
    m = masks.global_random_mask(SHAPES, 50, seed=7)
    assert masks.n_kept(m) == 50
    assert list(m) == list(SHAPES) and all(m[k].shape == SHAPES[k] for k in SHAPES)
    again = masks.global_random_mask(SHAPES, 50, seed=7)
    other = masks.global_random_mask(SHAPES, 50, seed=8)
    assert all(np.array_equal(m[k], again[k]) for k in SHAPES)
    assert not all(np.array_equal(m[k], other[k]) for k in SHAPES)
    assert masks.n_kept(masks.global_random_mask(SHAPES, 0, 1)) == 0
    with pytest.raises(MaskError):
        masks.global_random_mask(SHAPES, 10**6, 1)


def test_global_random_mask_layer_densities_match_global():
    shapes = {"a.weight": (64, 32, 3, 3), "b.weight": (128, 64, 3, 3), "c.weight": (256, 128, 1, 1)}
    total = sum(math.prod(s) for s in shapes.values())
    kept = total // 10
    m = masks.global_random_mask(shapes, kept, seed=0)
    density = kept / total
    for k, s in shapes.items():
        n = math.prod(s)
        # hypergeometric: sd of the layer density <= sqrt(d (1 - d) / n) ~ 0.0018 for the smallest layer;
        # 0.02 is over 10 sd, and the seed is fixed, so this cannot flake
        assert abs(m[k].sum() / n - density) < 0.02
    assert masks.n_kept(m) == kept


def test_preserve_lpr_mask_keeps_layer_counts_and_moves_positions():
    w = random_weights(seed=6)
    lottery = masks.global_magnitude_prune(w, None, 0.5)
    lottery = masks.global_magnitude_prune(w, lottery, 0.5)
    shuffled = masks.preserve_lpr_mask(lottery, seed=3)
    assert list(shuffled) == list(lottery)
    assert masks.lpr(shuffled) == masks.lpr(lottery)
    for k in lottery:
        assert int(shuffled[k].sum()) == int(lottery[k].sum())
        assert shuffled[k].shape == lottery[k].shape and shuffled[k].dtype == np.bool_
    assert not all(np.array_equal(shuffled[k], lottery[k]) for k in lottery)
    again = masks.preserve_lpr_mask(lottery, seed=3)
    assert all(np.array_equal(shuffled[k], again[k]) for k in lottery)


def test_layer_table_and_lpr():
    m = {"a.weight": np.array([[True, False], [False, False]]).reshape(2, 2, 1, 1),
         "b.weight": np.ones((1, 2, 1, 1), bool)}
    assert masks.layer_table(m) == [
        {"name": "a.weight", "total": 4, "pruned": 3, "ratio": 0.75},
        {"name": "b.weight", "total": 2, "pruned": 0, "ratio": 0.0},
    ]
    assert masks.sparsity(m) == pytest.approx(0.5)
    assert masks.n_total(m) == 6 and masks.n_kept(m) == 3


def test_check_monotone_raises_on_regrowth():
    parent = masks.global_magnitude_prune(random_weights(), None, 0.5)
    child = {k: v.copy() for k, v in parent.items()}
    masks.check_monotone(child, parent)  # equal is monotone
    name = "layer1.0.conv1.weight"
    pos = np.flatnonzero(~parent[name].ravel())[0]
    child[name].ravel()[pos] = True
    with pytest.raises(MaskError, match="not monotone"):
        masks.check_monotone(child, parent)
    with pytest.raises(MaskError):
        masks.check_monotone({k: parent[k] for k in reversed(list(parent))}, parent)


def test_check_compatible_rejects_another_architecture():
    m = masks.ones_like(SHAPES)
    state = {k: np.zeros(s) for k, s in SHAPES.items()}
    masks.check_compatible(m, state)
    with pytest.raises(MaskError, match="another architecture.*conv1.weight"):
        masks.check_compatible(m, {**state, "conv1.weight": np.zeros((8, 1, 3, 3))})
    missing = {k: v for k, v in state.items() if k != "fc_like.weight"}
    with pytest.raises(MaskError, match="fc_like.weight"):
        masks.check_compatible(m, missing)


# --------------------------------------------------------------------------- HDF5 files


def _level2_mask():
    w = random_weights(seed=9)
    m = masks.global_magnitude_prune(w, None, 0.2)
    return masks.global_magnitude_prune(w, m, 0.2)


def test_save_load_round_trip(tmp_path):
    m = _level2_mask()
    path = tmp_path / "sub" / "mask.h5"
    seeds = {"replicate": 3, "init": 11, "data": 12}
    masks.save_mask(path, m, kind="lottery", level=2, seed=3, h_find=H(0.2, 512, 1e-4), fraction=0.2, seeds=seeds)
    assert [p.name for p in path.parent.iterdir()] == ["mask.h5"]  # no temporary file left beside it
    loaded, attrs = masks.load_mask(path)
    assert list(loaded) == list(m)
    for k in m:
        assert loaded[k].dtype == np.bool_ and loaded[k].shape == m[k].shape
        assert np.array_equal(loaded[k], m[k])
    assert attrs["format"] == "findeval-mask" and attrs["format_version"] == 1
    assert attrs["kind"] == "lottery" and attrs["level"] == 2 and attrs["seed"] == 3
    assert attrs["sparsity"] == pytest.approx(masks.sparsity(m))
    assert attrs["H_find"] == {"lr": 0.2, "batch_size": 512, "weight_decay": 1e-4}
    assert H(**attrs["H_find"]) == H(0.2, 512, 1e-4)
    assert attrs["seeds"] == seeds
    assert attrs["fraction"] == pytest.approx(0.2)
    table = masks.layer_table(m)
    assert attrs["layer_names"] == list(m)
    assert attrs["layer_pruned"] == [r["pruned"] for r in table]
    assert attrs["layer_total"] == [r["total"] for r in table]
    assert attrs["layer_ratios"] == pytest.approx([r["ratio"] for r in table])
    with h5py.File(path, "r") as f:
        assert list(f.keys()) == list(m)  # stored in network order
        for k in m:
            assert f[k].compression == "gzip"
            assert f[k].dtype == np.bool_
            assert f[k].shape == m[k].shape


def test_save_load_random_mask_has_null_h_find(tmp_path):
    m = masks.global_random_mask(SHAPES, 40, 1)
    masks.save_mask(tmp_path / "g.h5", m, kind="global_random", level=1, seed=0, h_find=None, fraction=0.5)
    _, attrs = masks.load_mask(tmp_path / "g.h5")
    assert attrs["H_find"] is None and attrs["kind"] == "global_random" and attrs["seeds"] == {}


def test_save_mask_is_byte_identical_for_the_same_mask(tmp_path):
    # no timestamps or random temporary names end up in the file: the same mask gives the same bytes
    m = _level2_mask()
    for name in ("a.h5", "b.h5"):
        masks.save_mask(tmp_path / name, m, kind="lottery", level=2, seed=0, h_find=H(0.1, 64, 5e-4), fraction=0.2)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_missing_file(tmp_path):
    with pytest.raises(MaskError, match="not found"):
        masks.load_mask(tmp_path / "nope.h5")


def test_truncated_file_names_the_path(tmp_path):
    path = tmp_path / "mask.h5"
    masks.save_mask(path, _level2_mask(), kind="lottery", level=2, seed=0, h_find=None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MaskError) as err:
        masks.load_mask(path)
    assert str(path) in str(err.value)


def test_garbage_file_names_the_path(tmp_path):
    path = tmp_path / "mask.h5"
    path.write_bytes(b"this is not an HDF5 file" * 10)
    with pytest.raises(MaskError) as err:
        masks.load_mask(path)
    assert str(path) in str(err.value)


def test_foreign_hdf5_names_the_path(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("conv1.weight", data=np.ones((2, 2), bool))
    with pytest.raises(MaskError, match="not a findeval mask") as err:
        masks.load_mask(path)
    assert str(path) in str(err.value)


def test_tampered_file_is_refused(tmp_path):
    path = tmp_path / "mask.h5"
    m = _level2_mask()
    masks.save_mask(path, m, kind="lottery", level=2, seed=0, h_find=None)
    with h5py.File(path, "a") as f:  # a dataset that is not in layer_names
        f.create_dataset("extra.weight", data=np.ones((2,), bool))
    with pytest.raises(MaskError, match=str(path)):
        masks.load_mask(path)
    masks.save_mask(path, m, kind="lottery", level=2, seed=0, h_find=None)
    with h5py.File(path, "a") as f:  # a mask that is not boolean
        del f["conv1.weight"]
        f.create_dataset("conv1.weight", data=np.ones(SHAPES["conv1.weight"], np.float32))
    with pytest.raises(MaskError, match="bool"):
        masks.load_mask(path)


def test_h_find_attr_is_json(tmp_path):
    path = tmp_path / "mask.h5"
    masks.save_mask(path, _level2_mask(), kind="lottery", level=2, seed=0, h_find=H(0.1, 64, 5e-4))
    with h5py.File(path) as f:
        raw = f.attrs["H_find"]
        raw = raw.decode() if isinstance(raw, bytes) else raw
        assert json.loads(raw) == {"lr": 0.1, "batch_size": 64, "weight_decay": 5e-4}
