"""Models (what is prunable, seeded init), data (digits file, split, augmentation) and masked training."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from findeval import data, masks, models, training
from findeval.hparams import H

TINY_SPEC = {"name": "resnet_cifar", "depth": 8, "width": 2, "in_channels": 1, "num_classes": 4}


def conv_weight_names(model):
    return [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


# --------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "resnet_cifar", "depth": 8, "width": 8, "in_channels": 1, "num_classes": 10},
        {"name": "resnet_cifar", "depth": 14, "width": 4, "in_channels": 3, "num_classes": 100},
        {"name": "resnet18", "width": 8, "in_channels": 3, "num_classes": 200},
        {"name": "resnet50", "width": 4, "in_channels": 3, "num_classes": 200},
    ],
)
def test_prunable_names_are_exactly_the_conv_weights(spec):
    model = models.build(spec)
    names = models.prunable_names(model)
    assert names == conv_weight_names(model)
    assert names == models.prunable_names(model.state_dict())  # same answer from a state dict, same order
    assert names[0] == "conv1.weight"
    assert any("downsample.0.weight" in n for n in names)  # shortcut convolutions are prunable
    state = model.state_dict()
    assert all(state[n].dim() == 4 for n in names)
    never = [k for k in state if k.startswith("fc.") or k.endswith(".bias") or ".bn" in k or k.startswith("bn")
             or "downsample.1" in k or "running_" in k or "num_batches" in k]
    assert never and not set(never) & set(names)
    assert "fc.weight" in state and "fc.weight" not in names
    counts = models.count_parameters(model)
    assert counts["prunable"] == sum(state[n].numel() for n in names) < counts["total"]


@pytest.mark.parametrize("width", [4, 8])
def test_resnet_cifar_depth8_prunable_count(width):
    # counted by hand: 3x3 stem, one basic block per stage (widths w, 2w, 4w), 1x1 shortcuts into stages 2, 3
    w, c = width, 1
    stem = c * w * 9
    stage1 = 2 * w * w * 9
    stage2 = w * 2 * w * 9 + 2 * w * 2 * w * 9 + w * 2 * w
    stage3 = 2 * w * 4 * w * 9 + 4 * w * 4 * w * 9 + 2 * w * 4 * w
    model = models.build({"name": "resnet_cifar", "depth": 8, "width": width, "in_channels": c, "num_classes": 10})
    assert models.count_parameters(model)["prunable"] == stem + stage1 + stage2 + stage3
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    if width == 8:
        assert stem + stage1 + stage2 + stage3 == 19144


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_imagenet_resnets_match_torchvision(name):
    torchvision = pytest.importorskip("torchvision")
    ours = models.build({"name": name, "in_channels": 3, "num_classes": 200})
    ref = getattr(torchvision.models, name)(num_classes=200)
    ours_state, ref_state = ours.state_dict(), ref.state_dict()
    assert list(ours_state) == list(ref_state)  # torchvision's names, in torchvision's order
    for k in ref_state:
        if k != "conv1.weight":
            assert ours_state[k].shape == ref_state[k].shape, k
    assert ours_state["conv1.weight"].shape == (64, 3, 3, 3)  # 3x3 stride-1 stem for small images
    n_ref = sum(p.numel() for p in ref.parameters())
    stem_adjust = -64 * 3 * 7 * 7 + 64 * 3 * 3 * 3
    assert models.count_parameters(ours)["total"] == n_ref + stem_adjust
    assert set(models.prunable_names(ours)) == {f"{n}.weight" for n, m in ref.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_imagenet_stem_is_torchvisions(name):
    """model.stem: imagenet builds torchvision's 7x7 stride-2 stem and max-pool: same tensors, same shapes, same
    feature-map sizes (the 64x64 input reaches layer1 at 16x16, not 64x64: 16x fewer positions)."""
    torchvision = pytest.importorskip("torchvision")
    ours = models.build({"name": name, "stem": "imagenet", "in_channels": 3, "num_classes": 200})
    ref = getattr(torchvision.models, name)(num_classes=200)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    ours.load_state_dict(ref.state_dict())
    ours.eval(), ref.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5)
    sizes = {}
    hook = ours.layer1.register_forward_hook(lambda m, i, o: sizes.update(imagenet=o.shape[-1]))
    ours(x)
    hook.remove()
    cifar = models.build({"name": name, "stem": "cifar", "in_channels": 3, "num_classes": 200})
    cifar.layer1.register_forward_hook(lambda m, i, o: sizes.update(cifar=o.shape[-1]))
    cifar(x)
    assert sizes == {"imagenet": 16, "cifar": 64}
    # cifar is the default: an unset stem builds the same network, tensor for tensor
    torch.manual_seed(0)
    a = models.build({"name": name, "in_channels": 3, "num_classes": 200}).state_dict()
    torch.manual_seed(0)
    b = models.build({"name": name, "stem": "cifar", "in_channels": 3, "num_classes": 200}).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stem_is_an_option_of_the_imagenet_resnets_only():
    with pytest.raises(models.ModelError, match="stem"):
        models.build({"name": "resnet_cifar", "depth": 8, "stem": "imagenet", "in_channels": 1, "num_classes": 10})
    with pytest.raises(models.ModelError, match="unknown stem"):
        models.build({"name": "resnet18", "stem": "vgg", "in_channels": 3, "num_classes": 10})


def test_resnet_width_and_small_input():
    model = models.build({"name": "resnet18", "width": 4, "in_channels": 3, "num_classes": 7})
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 7)
    assert model.state_dict()["layer4.1.conv2.weight"].shape == (32, 32, 3, 3)


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"name": "vgg", "in_channels": 1, "num_classes": 10}, "resnet_cifar"),
        ({"name": "resnet_cifar", "depth": 10, "in_channels": 1, "num_classes": 10}, "6n\\+2"),
        ({"name": "resnet_cifar", "in_channels": 1}, "num_classes"),
        ({"name": "resnet18", "in_channels": 1, "num_classes": 10, "dropout": 0.5}, "dropout"),
    ],
)
def test_build_errors(spec, match):
    with pytest.raises(models.ModelError, match=match):
        models.build(spec)


def test_init_model_is_seeded():
    a, b, c = models.init_model(TINY_SPEC, 5), models.init_model(TINY_SPEC, 5), models.init_model(TINY_SPEC, 6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["conv1.weight"], sc["conv1.weight"])
    assert not torch.equal(sa["fc.weight"], sc["fc.weight"])


def test_init_model_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    models.init_model(TINY_SPEC, 0)
    assert torch.equal(torch.rand(3), expected)


def test_init_follows_the_paper():
    m = models.init_model({"name": "resnet_cifar", "depth": 8, "width": 16, "in_channels": 3, "num_classes": 10}, 0)
    s = m.state_dict()
    assert torch.all(s["bn1.weight"] == 1) and torch.all(s["bn1.bias"] == 0)
    assert torch.all(s["fc.bias"] == 0)
    w = s["layer1.0.conv1.weight"]  # Kaiming normal, fan-out: std = sqrt(2 / (out * k * k))
    assert w.std().item() == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.1)


def test_load_state_names_the_keys():
    model = models.build(TINY_SPEC)
    good = models.build(TINY_SPEC).state_dict()
    models.load_state(model, good)
    assert torch.equal(model.state_dict()["conv1.weight"], good["conv1.weight"])
    missing = {k: v for k, v in good.items() if k != "layer1.0.conv2.weight"}
    with pytest.raises(models.ModelError, match="missing layer1.0.conv2.weight"):
        models.load_state(model, missing)
    with pytest.raises(models.ModelError, match="unexpected extra.weight"):
        models.load_state(model, {**good, "extra.weight": torch.zeros(1)})
    other = models.build({**TINY_SPEC, "width": 4}).state_dict()
    with pytest.raises(models.ModelError, match="shape mismatch conv1.weight") as err:
        models.load_state(model, other, "checkpoint x.pt")
    assert "checkpoint x.pt" in str(err.value)


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("digits") / "dataset.npz"
    data.prepare("digits", path, test_fraction=0.2, split_seed=0)
    return path


def test_digits_prepared_file(digits_file):
    with np.load(digits_file) as z:
        assert z["x_train"].shape == (1438, 1, 8, 8) and z["x_test"].shape == (359, 1, 8, 8)
        assert z["x_train"].dtype == np.uint8 and z["x_test"].dtype == np.uint8
        assert z["y_train"].dtype == np.int64 and z["y_train"].shape == (1438,) and z["y_test"].shape == (359,)
        assert int(z["num_classes"]) == 10
        assert set(np.unique(z["y_train"])) == set(range(10)) == set(np.unique(z["y_test"]))
        assert z["x_train"].max() == 255 and z["x_train"].min() == 0
        xf = z["x_train"].astype(np.float64) / 255
        assert z["mean"] == pytest.approx([xf.mean()], rel=1e-5)
        assert z["std"] == pytest.approx([xf.std()], rel=1e-5)
    d = data.load(digits_file)
    assert d.shape == (1, 8, 8) and d.num_classes == 10
    assert d.x_train.dtype == torch.uint8 and d.y_train.dtype == torch.int64


def test_split_is_stratified_and_seeded():
    x, y = data.load_digits_arrays()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    tr, te = data.stratified_split(y, 0.2, 0)
    assert len(tr) == 1438 and len(te) == 359
    assert not set(tr) & set(te) and len(set(tr) | set(te)) == 1797
    for c in range(10):
        n_c = int((y == c).sum())
        assert int((y[te] == c).sum()) == round(0.2 * n_c)  # per class, not just overall
    tr2, te2 = data.stratified_split(y, 0.2, 0)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    _, te3 = data.stratified_split(y, 0.2, 1)
    assert not np.array_equal(te, te3)
    with pytest.raises(data.DataError):
        data.stratified_split(y, 1.0, 0)


def test_prepare_is_reproducible(digits_file, tmp_path):
    again = tmp_path / "again.npz"
    data.prepare("digits", again, test_fraction=0.2, split_seed=0)
    with np.load(digits_file) as a, np.load(again) as b:
        for k in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(a[k], b[k])


def test_prepare_and_load_errors(tmp_path):
    with pytest.raises(data.DataError, match="digits"):
        data.prepare("mnist", tmp_path / "x.npz")
    with pytest.raises(data.DataError, match=str(tmp_path / "nowhere")):
        data.prepare("cifar10", tmp_path / "x.npz", root=tmp_path / "nowhere")
    with pytest.raises(data.DataError, match="not found"):
        data.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((2, 1, 8, 8), np.uint8))
    with pytest.raises(data.DataError, match="lacks"):
        data.load(bad)


def test_augment_is_deterministic_and_keeps_shape():
    x = torch.rand(16, 1, 8, 8)
    out1 = data.augment(x, torch.Generator().manual_seed(3), crop_scale=(0.5, 1.0), flip=True)
    out2 = data.augment(x, torch.Generator().manual_seed(3), crop_scale=(0.5, 1.0), flip=True)
    out3 = data.augment(x, torch.Generator().manual_seed(4), crop_scale=(0.5, 1.0), flip=True)
    assert out1.shape == x.shape and out1.dtype == x.dtype
    assert torch.equal(out1, out2)
    assert not torch.equal(out1, out3)
    assert not torch.equal(out1, x)


def test_augment_full_crop_without_flip_is_identity():
    x = torch.rand(4, 3, 8, 8)
    out = data.augment(x, torch.Generator().manual_seed(0), crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=False)
    assert torch.allclose(out, x, atol=1e-5)


def test_normalize():
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    out = data.normalize(x, torch.tensor([0.5]), torch.tensor([0.5]))
    assert out.flatten().tolist() == pytest.approx([-1.0, 1.0])
    assert x.dtype == torch.uint8  # input untouched


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def small_data():
    g = np.random.default_rng(0)
    x = torch.from_numpy(g.integers(0, 256, (97, 1, 8, 8), dtype=np.uint8))
    y = torch.from_numpy(g.integers(0, 4, 97)).long()
    return data.Data(x, y, x[:32], y[:32], torch.tensor([0.5]), torch.tensor([0.25]), 4)


def test_lr_factor_multistep():
    s = training.Schedule(epochs=10, milestones=(3, 6), gamma=0.1)
    assert [s.lr_factor(e, 0, 5) for e in (0, 2)] == [1.0, 1.0]
    assert s.lr_factor(3, 0, 5) == pytest.approx(0.1)
    assert s.lr_factor(5, 4, 5) == pytest.approx(0.1)
    assert s.lr_factor(6, 0, 5) == pytest.approx(0.01)
    assert s.lr_factor(9, 4, 5) == pytest.approx(0.01)


def test_lr_factor_cosine():
    s = training.Schedule(epochs=4, schedule="cosine")
    assert s.lr_factor(0, 0, 10) == pytest.approx(1.0)
    assert s.lr_factor(2, 0, 10) == pytest.approx(0.5)  # half way
    assert s.lr_factor(1, 0, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert 0 < s.lr_factor(3, 9, 10) < 0.01  # almost 0 at the last iteration
    values = [s.lr_factor(e, i, 10) for e in range(4) for i in range(10)]
    assert values == sorted(values, reverse=True)


def test_lr_factor_warmup():
    s = training.Schedule(epochs=3, milestones=(2,), gamma=0.5, warmup_iters=4)
    assert [s.lr_factor(0, i, 10) for i in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert s.lr_factor(2, 0, 10) == pytest.approx(0.5)
    cos = training.Schedule(epochs=1, schedule="cosine", warmup_iters=10)
    assert cos.lr_factor(0, 0, 100) == pytest.approx(0.1)


def test_lr_factor_unknown_schedule():
    with pytest.raises(ValueError, match="cosine"):
        training.Schedule(epochs=1, schedule="linear").lr_factor(0, 0, 1)


def test_schedule_from_config_ignores_unknown_keys():
    s = training.Schedule.from_config({"epochs": 3, "milestones": [1, 2], "gamma": 0.5, "other": 1})
    assert s.epochs == 3 and s.milestones == (1, 2) and s.gamma == 0.5


def test_pruned_weights_stay_exactly_zero(small_data):
    model = models.init_model(TINY_SPEC, 0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mask = masks.global_magnitude_prune(model.state_dict(), None, 0.5)
    mask = masks.global_magnitude_prune(model.state_dict(), mask, 0.5)
    result = training.train(model, small_data, H(0.1, 16, 5e-2), training.Schedule(epochs=2, momentum=0.9),
                            data_seed=1, mask=mask, augment=training.Augment(crop_scale=(0.5, 1.0)))
    assert not result["diverged"] and result["epochs_completed"] == 2
    assert result["iterations_per_epoch"] == 6  # 97 = 6 * 16 + 1: the 1-image batch is dropped
    state = model.state_dict()
    for k, m in mask.items():
        w = state[k]
        pruned = torch.from_numpy(~m)
        assert torch.all(w[pruned] == 0.0), k  # exactly zero, despite momentum and weight decay
        assert not torch.equal(w[~pruned], before[k][~pruned])  # the kept weights did train
    assert len(result["history"]) == 2
    assert {"epoch", "lr", "train_loss", "test_accuracy", "test_loss"} <= set(result["history"][0])


def test_huge_lr_diverges_without_raising(small_data):
    model = models.init_model(TINY_SPEC, 0)
    result = training.train(model, small_data, H(1e6, 32, 5e-4), training.Schedule(epochs=3), data_seed=1,
                            augment=training.Augment(enabled=False))
    assert result["diverged"] is True
    assert result["epochs_completed"] < 3
    assert result["test_loss"] is None or math.isfinite(result["test_loss"])
    assert 0.0 <= result["test_accuracy"] <= 1.0


def test_training_is_deterministic(small_data):
    states, results = [], []
    for _ in range(2):
        model = models.init_model(TINY_SPEC, 3)
        results.append(training.train(model, small_data, H(0.05, 32, 5e-4), training.Schedule(epochs=2),
                                      data_seed=7, augment=training.Augment(crop_scale=(0.5, 1.0))))
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert results[0]["history"][-1]["train_loss"] == results[1]["history"][-1]["train_loss"]
    model = models.init_model(TINY_SPEC, 3)
    training.train(model, small_data, H(0.05, 32, 5e-4), training.Schedule(epochs=2), data_seed=8,
                   augment=training.Augment(crop_scale=(0.5, 1.0)))
    assert not torch.equal(model.state_dict()["conv1.weight"], states[0]["conv1.weight"])  # data seed matters


def test_evaluate_counts_accuracy(small_data):
    model = models.init_model(TINY_SPEC, 0).eval()
    out = training.evaluate(model, small_data.x_test, small_data.y_test, small_data.mean, small_data.std,
                            batch_size=5)
    with torch.no_grad():
        logits = model(data.normalize(small_data.x_test, small_data.mean, small_data.std))
    assert out["accuracy"] == pytest.approx((logits.argmax(1) == small_data.y_test).float().mean().item())


def test_last_partial_batch_is_kept(small_data):
    model = models.init_model(TINY_SPEC, 0)
    result = training.train(model, small_data, H(0.05, 30, 5e-4), training.Schedule(epochs=1), data_seed=1,
                            augment=training.Augment(enabled=False))
    assert result["iterations_per_epoch"] == 4  # 97 = 3 * 30 + 7: the 7-image batch is trained on


@pytest.mark.parametrize("momentum, nesterov, wd", [(0.9, False, 5e-4), (0.9, True, 1e-2), (0.0, False, 0.0),
                                                    (0.5, False, 0.0)])
def test_sgd_matches_torch_optim_sgd(momentum, nesterov, wd):
    torch.manual_seed(0)
    ours_model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    ref_model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    ref_model.load_state_dict(ours_model.state_dict())
    ours = training.SGD(list(ours_model.parameters()), momentum=momentum, nesterov=nesterov, weight_decay=wd)
    ref = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=wd)
    for step in range(5):
        x = torch.randn(8, 5)
        lr = 0.2 * 0.5**step  # the LR changes between steps, as with a schedule
        for model in (ours_model, ref_model):
            model.zero_grad()
            model(x).pow(2).mean().backward()
        ours.step(lr)
        for group in ref.param_groups:
            group["lr"] = lr
        ref.step()
    for (k, a), b in zip(ours_model.state_dict().items(), ref_model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=k)


def test_sgd_rejects_nesterov_without_momentum():
    with pytest.raises(ValueError):
        training.SGD([nn.Parameter(torch.zeros(2))], momentum=0.0, nesterov=True)


class _Interrupted(Exception):
    pass


def test_resume_after_an_interruption_ends_where_an_uninterrupted_run_does(small_data, tmp_path):
    h, schedule, aug = H(0.05, 32, 5e-4), training.Schedule(epochs=3, milestones=(2,)), training.Augment()
    ref_model = models.init_model(TINY_SPEC, 3)
    ref = training.train(ref_model, small_data, h, schedule, data_seed=7, augment=aug)

    resume = training.Resume(str(tmp_path / "run.resume.pt"), "fingerprint-a", every=1)
    epochs_logged = []

    def stop_in_epoch_2(msg):
        epochs_logged.append(msg)
        if len(epochs_logged) == 2:  # killed right after epoch 2 finished, before its state was saved
            raise _Interrupted

    with pytest.raises(_Interrupted):
        training.train(models.init_model(TINY_SPEC, 3), small_data, h, schedule, data_seed=7, augment=aug,
                       resume=resume, log=stop_in_epoch_2)
    assert (tmp_path / "run.resume.pt").is_file()

    model = models.init_model(TINY_SPEC, 3)
    result = training.train(model, small_data, h, schedule, data_seed=7, augment=aug, resume=resume)
    assert result["resumed_from_epoch"] == 1
    state, ref_state = model.state_dict(), ref_model.state_dict()
    assert all(torch.equal(state[k], ref_state[k]) for k in ref_state)
    strip = lambda hist: [{k: v for k, v in row.items() if k != "time_s"} for row in hist]  # noqa: E731
    assert strip(result["history"]) == strip(ref["history"])

    # a resume file of another run (other fingerprint) is ignored: training starts from epoch 0
    other = training.Resume(str(tmp_path / "run.resume.pt"), "fingerprint-b", every=1)
    fresh = training.train(models.init_model(TINY_SPEC, 3), small_data, h, schedule, data_seed=7, augment=aug,
                           resume=other)
    assert fresh["resumed_from_epoch"] == 0
    assert strip(fresh["history"]) == strip(ref["history"])


# --------------------------------------------------------------------------- the model registry


def test_one_architecture_description_for_build_shapes_and_check():
    """findeval.regime.ARCHITECTURES is the one description: the schema's enum is its names, models.build builds
    the convolutions regime.conv_shapes counts (every model and stem), and the config check refuses what the
    description does not take."""
    from conftest import SCHEMA, read_yaml
    from findeval import regime
    from findeval.workflow import ConfigError, check_model

    enum = read_yaml(SCHEMA)["properties"]["model"]["properties"]["name"]["enum"]
    assert tuple(enum) == tuple(regime.ARCHITECTURES) == models.MODELS
    for model in ({"name": "resnet_cifar", "depth": 14, "width": 2}, {"name": "resnet18", "width": 2},
                  {"name": "resnet18", "width": 2, "stem": "imagenet"}, {"name": "resnet50", "width": 2}):
        net = models.build({**model, "in_channels": 3, "num_classes": 5})
        built = [(k, tuple(v.shape)) for k, v in net.state_dict().items() if k in models.prunable_names(net)]
        assert regime.conv_shapes(model, 3) == built, model
        check_model(model)
    with pytest.raises(ConfigError, match=r"model.depth: only resnet_cifar takes a depth"):
        check_model({"name": "resnet50", "depth": 50})
    with pytest.raises(ConfigError, match=r"model.stem: resnet_cifar does not take it \(only resnet18, resnet50\)"):
        check_model({"name": "resnet_cifar", "stem": "imagenet"})
    with pytest.raises(ConfigError, match=r"6n\+2"):
        check_model({"name": "resnet_cifar", "depth": 12})
    with pytest.raises(models.ModelError, match="does not take options: depth"):
        models.build({"name": "resnet18", "depth": 18, "in_channels": 3, "num_classes": 5})
