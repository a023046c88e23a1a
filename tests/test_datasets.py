"""Tiny ImageNet and MiniPlaces: preparation from their standard folders, bad folders, and training on them.

The folders are built here in exactly the published layouts (a few classes, a few generated JPEGs):

    tiny-imagenet-200/wnids.txt, words.txt, train/<wnid>/images/<wnid>_<i>.JPEG, train/<wnid>/<wnid>_boxes.txt,
                      val/images/val_<i>.JPEG, val/val_annotations.txt, test/images/test_<i>.JPEG
    miniplaces/categories.txt, train.txt, val.txt, images/train/<l>/<name>/<8 digits>.jpg,
               images/val/<8 digits>.jpg, images/test/<8 digits>.jpg
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import snakemake, validated, write_config
from findeval import data, models
from findeval.a1 import jobs
from findeval.hparams import H
from findeval.workflow import ConfigError, check_dataset

PIL = pytest.importorskip("PIL.Image")

WNIDS = ["n04067472", "n01443537", "n02124075"]  # not sorted, like the real wnids.txt
PLACES = ["/a/abbey", "/b/bamboo_forest", "/c/campsite"]


def image(rng, size, label, mode="RGB"):
    """A noisy image whose mean colour depends on the label (so the classes are learnable)."""
    base = np.zeros((size, size, 3), np.float64)
    base[..., label % 3] = 160
    pixels = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
    im = PIL.fromarray(pixels)
    return im.convert(mode) if mode != "RGB" else im


def make_tiny_imagenet(parent, n_train=6, n_val=3, seed=0):
    rng = np.random.default_rng(seed)
    base = parent / "tiny-imagenet-200"
    (base / "val" / "images").mkdir(parents=True)
    (base / "test" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("".join(f"{w}\n" for w in WNIDS))
    (base / "words.txt").write_text("".join(f"{w}\tthing {i}\n" for i, w in enumerate(WNIDS)))
    label = {w: i for i, w in enumerate(sorted(WNIDS))}
    for w in WNIDS:
        folder = base / "train" / w / "images"
        folder.mkdir(parents=True)
        boxes = []
        for i in range(n_train):
            mode = "L" if (w, i) == (WNIDS[0], 0) else "RGB"  # the real set has a few grey JPEGs
            image(rng, 64, label[w], mode).save(folder / f"{w}_{i}.JPEG", quality=95)
            boxes.append(f"{w}_{i}.JPEG\t0\t0\t63\t63\n")
        (base / "train" / w / f"{w}_boxes.txt").write_text("".join(boxes))
    lines = []
    for i in range(n_val * len(WNIDS)):
        w = WNIDS[i % len(WNIDS)]
        image(rng, 64, label[w]).save(base / "val" / "images" / f"val_{i}.JPEG", quality=95)
        lines.append(f"val_{i}.JPEG\t{w}\t0\t0\t63\t63\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    image(rng, 64, 0).save(base / "test" / "images" / "test_0.JPEG")
    return base


def make_miniplaces(parent, n_train=6, n_val=3, seed=1):
    rng = np.random.default_rng(seed)
    base = parent / "miniplaces"
    (base / "images" / "val").mkdir(parents=True)
    (base / "images" / "test").mkdir(parents=True)
    (base / "categories.txt").write_text("".join(f"{c} {i}\n" for i, c in enumerate(PLACES)))
    train, n = [], 0
    for y, c in enumerate(PLACES):
        folder = base / "images" / "train" / c.strip("/")
        folder.mkdir(parents=True)
        for _ in range(n_train):
            n += 1
            image(rng, 128, y).save(folder / f"{n:08d}.jpg", quality=95)
            train.append(f"train{c}/{n:08d}.jpg {y}\n")
    (base / "train.txt").write_text("".join(train))
    val = []
    for i in range(1, n_val * len(PLACES) + 1):
        y = i % len(PLACES)
        image(rng, 128, y).save(base / "images" / "val" / f"{i:08d}.jpg", quality=95)
        val.append(f"val/{i:08d}.jpg {y}\n")
    (base / "val.txt").write_text("".join(val))
    image(rng, 128, 0).save(base / "images" / "test" / "00000001.jpg")
    return base


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    return {"tiny_imagenet": make_tiny_imagenet(root), "miniplaces": make_miniplaces(root)}


def decoded(path):
    with PIL.open(path) as im:
        return np.asarray(im.convert("RGB")).transpose(2, 0, 1)


def load_npz(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# --------------------------------------------------------------------------- preparation


@pytest.mark.parametrize("as_parent", [False, True], ids=["folder", "parent-folder"])
def test_prepare_tiny_imagenet(folders, tmp_path, as_parent):
    base = folders["tiny_imagenet"]
    out = tmp_path / "dataset.npz"
    data.prepare("tiny_imagenet", out, root=base.parent if as_parent else base, workers=2)
    z = load_npz(out)
    assert z["x_train"].shape == (18, 3, 64, 64) and z["x_train"].dtype == np.uint8
    assert z["x_test"].shape == (9, 3, 64, 64)
    assert list(z["classes"]) == sorted(WNIDS) and int(z["num_classes"]) == 3
    # label = index of the wnid in sorted order; images in (class, file name) order, pixels as Pillow decodes
    order = [(w, i) for w in sorted(WNIDS) for i in range(6)]
    assert z["y_train"].tolist() == [sorted(WNIDS).index(w) for w, _ in order]
    for k in (0, 7, 17):
        w, i = order[k]
        assert np.array_equal(z["x_train"][k], decoded(base / "train" / w / "images" / f"{w}_{i}.JPEG"))
    grey = z["x_train"][order.index((WNIDS[0], 0))]
    assert np.array_equal(grey[0], grey[1]) and np.array_equal(grey[1], grey[2])  # grey -> RGB
    # the test set is val/, labelled by val_annotations.txt (not by file order)
    assert z["y_test"].tolist() == [sorted(WNIDS).index(WNIDS[i % 3]) for i in range(9)]
    assert np.array_equal(z["x_test"][4], decoded(base / "val" / "images" / "val_4.JPEG"))
    x = z["x_train"].astype(np.float64) / 255
    np.testing.assert_allclose(z["mean"], x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(z["std"], x.std(axis=(0, 2, 3)), rtol=1e-6)
    loaded = data.load(out)
    assert loaded.shape == (3, 64, 64) and loaded.num_classes == 3


def test_prepare_miniplaces(folders, tmp_path):
    base = folders["miniplaces"]
    out = tmp_path / "dataset.npz"
    data.prepare("miniplaces", out, root=base)
    z = load_npz(out)
    assert z["x_train"].shape == (18, 3, 128, 128) and z["x_test"].shape == (9, 3, 128, 128)
    assert list(z["classes"]) == PLACES and int(z["num_classes"]) == 3
    assert z["y_train"].tolist() == [y for y in range(3) for _ in range(6)]  # the order of train.txt
    assert z["y_test"].tolist() == [i % 3 for i in range(1, 10)]
    assert np.array_equal(z["x_train"][7], decoded(base / "images" / "train" / "b" / "bamboo_forest" / "00000008.jpg"))
    assert np.array_equal(z["x_test"][0], decoded(base / "images" / "val" / "00000001.jpg"))


def test_channel_stats_in_chunks_match_numpy():
    x = np.random.default_rng(0).integers(0, 256, (37, 3, 5, 7), dtype=np.uint8)
    mean, std = data.channel_stats(x, chunk=4)
    xf = x.astype(np.float64) / 255
    np.testing.assert_allclose(mean, xf.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, xf.std(axis=(0, 2, 3)), rtol=1e-12)


def test_registry_shapes_agree():
    for name, (classes, _) in data.IMAGE_DATASETS.items():
        assert name in data.DATASETS
        assert models.DATASET_SHAPES[name] == (3, classes)


def test_the_schema_enum_is_the_registry():
    """findeval.datasets is the one list of datasets: the schema's enum, data, jobs and workflow read it."""
    from conftest import SCHEMA, read_yaml
    from findeval import datasets, workflow

    enum = read_yaml(SCHEMA)["properties"]["dataset"]["properties"]["name"]["enum"]
    assert tuple(enum) == datasets.NAMES == data.DATASETS
    assert set(models.DATASET_SHAPES) == set(datasets.NAMES)
    assert set(workflow.DATASET_FILES) == set(workflow.DATASET_ROOTS) == {"cifar10", "cifar100", "tiny_imagenet",
                                                                         "miniplaces", "fashion_mnist"}
    assert data.IMAGE_DATASETS == {"tiny_imagenet": (200, 64), "miniplaces": (100, 128)}
    assert models.DATASET_SHAPES["digits"] == (1, 10) and models.DATASET_SHAPES["cifar100"] == (3, 100)
    assert {n: d.subdirs for n, d in datasets.REGISTRY.items() if d.subdirs} == {
        "tiny_imagenet": ("tiny-imagenet-200",), "fashion_mnist": ("FashionMNIST/raw",)}
    # every record names a loader that exists, and the options it takes are schema keys of dataset
    props = read_yaml(SCHEMA)["properties"]["dataset"]["properties"]
    for d in datasets.REGISTRY.values():
        assert d.loader in data.LOADERS, d.name
        assert set(d.options) <= set(datasets.OPTIONS) and set(datasets.OPTIONS) <= set(props)
        assert all(props[k]["default"] == v for k, v in datasets.OPTIONS.items())


def test_loaders_read_the_record_not_the_name(tmp_path):
    """A new record that reuses a loader reads its own layout: a CIFAR-style record with other folder and batch
    names prepares from those (the loader never branches on the dataset's name)."""
    import pickle
    from dataclasses import replace

    from findeval import datasets

    base = tmp_path / "my-batches"
    base.mkdir()
    rng = np.random.default_rng(0)
    for f, n in (("part_a", 6), ("part_b", 4), ("holdout", 5)):
        with open(base / f, "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),
                         b"coarse": list(rng.integers(0, 4, n))}, fh)
    mine = replace(datasets.REGISTRY["cifar100"], name="mine",
                   layout={"folder": "my-batches", "train": ("part_a", "part_b"), "test": ("holdout",),
                           "labels": "coarse"})
    arrays = data.LOADERS[mine.loader](mine, tmp_path)
    assert arrays["x_train"].shape == (10, 3, 32, 32) and arrays["x_test"].shape == (5, 3, 32, 32)
    with pytest.raises(data.DataError, match="cifar-100-python"):  # the registered record reads its own
        data.LOADERS["cifar"](datasets.REGISTRY["cifar100"], tmp_path)


# --------------------------------------------------------------------------- bad folders


def _rm(rel):
    def edit(base):
        path = base / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        return str(path)
    return edit


def _append(rel, text, expect):
    def edit(base):
        with open(base / rel, "a") as fh:
            fh.write(text)
        return expect
    return edit


def _resize(rel, size):
    def edit(base):
        PIL.new("RGB", (size, size)).save(base / rel)
        return f"{base / rel} is {size}x{size}, expected"
    return edit


def _corrupt(rel):
    def edit(base):
        (base / rel).write_bytes(b"not a jpeg")
        return f"image {base / rel} cannot be decoded"
    return edit


BAD = {
    "tiny_imagenet": {
        "no-annotations": _rm("val/val_annotations.txt"),
        "no-val-images": _rm("val/images"),
        "class-without-folder": _rm(f"train/{WNIDS[1]}/images"),
        "annotated-image-missing": _rm("val/images/val_2.JPEG"),
        "unknown-class": _append("val/val_annotations.txt", "val_0.JPEG\tn99999999\t0\t0\t1\t1\n", "n99999999"),
        "wrong-size": _resize(f"train/{WNIDS[2]}/images/{WNIDS[2]}_3.JPEG", 32),
        "not-a-jpeg": _corrupt("val/images/val_5.JPEG"),
    },
    "miniplaces": {
        "no-categories": _rm("categories.txt"),
        "no-val-folder": _rm("images/val"),
        "listed-image-missing": _rm("images/train/c/campsite/00000013.jpg"),
        "unknown-label": _append("val.txt", "val/00000001.jpg 7\n", "label 7 is not in categories.txt"),
        "bad-line": _append("train.txt", "just-a-path.jpg\n", "just-a-path.jpg"),
        "wrong-size": _resize("images/val/00000002.jpg", 64),
    },
}


@pytest.mark.parametrize("name,case", [(n, c) for n in BAD for c in BAD[n]])
def test_incomplete_folder_names_what_is_missing(folders, tmp_path, name, case):
    base = tmp_path / folders[name].name
    shutil.copytree(folders[name], base)
    expected = BAD[name][case](base)
    out = tmp_path / "dataset.npz"
    with pytest.raises(data.DataError, match=f"'{name}'|image") as err:
        data.prepare(name, out, root=base, workers=2)
    assert expected in str(err.value)
    assert not out.exists()


def test_missing_root_and_wrong_folder(tmp_path):
    with pytest.raises(data.DataError, match="needs dataset.root"):
        data.prepare("miniplaces", tmp_path / "x.npz", root=None)
    with pytest.raises(data.DataError, match=r"expected wnids.txt in .* or in .*tiny-imagenet-200"):
        data.prepare("tiny_imagenet", tmp_path / "x.npz", root=tmp_path)


@pytest.mark.parametrize("name", ["tiny_imagenet", "miniplaces"])
def test_parse_time_check(folders, tmp_path, name):
    check_dataset({"name": name, "root": str(folders[name])})
    if name == "tiny_imagenet":
        check_dataset({"name": name, "root": str(folders[name].parent)})  # the folder that holds it
    with pytest.raises(ConfigError, match="dataset.root must be set"):
        check_dataset({"name": name, "root": None})
    with pytest.raises(ConfigError, match="does not exist"):
        check_dataset({"name": name, "root": str(tmp_path / "nowhere")})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="not found") as err:
        check_dataset({"name": name, "root": str(empty)})
    first = {"tiny_imagenet": "wnids.txt", "miniplaces": "train.txt"}[name]
    assert str(empty / first) in str(err.value)


# --------------------------------------------------------------------------- training on them


def tiny_config(name, root):
    return validated({
        "experiment": f"tiny_{name}",
        "dataset": {"name": name, "root": str(root), "augment": {"crop_scale": [0.5, 1.0], "flip": True}},
        "model": {"name": "resnet_cifar", "depth": 8, "width": 2},
        "training": {"epochs": 1},
        "defaults": {"lr": 0.05, "batch_size": 8, "weight_decay": 5.0e-4},
        "grids": {d: {"find": [v], "eval": [v]} for d, v in
                  (("lr", 0.05), ("batch_size", 8), ("weight_decay", 5.0e-4))},
        "pruning": {"fraction": 0.5, "levels": 1},
        "seeds": [0],
    })


def test_snakemake_prepares_tiny_imagenet_and_trains(folders, tmp_path):
    config = tiny_config("tiny_imagenet", folders["tiny_imagenet"].parent)
    write_config(tmp_path, config)
    slug = H(**config["defaults"]).slug
    target = f"results/tiny_tiny_imagenet/find/{slug}/seed0/level0/metrics.json"
    snakemake(tmp_path, target, cores=2, timeout=240)
    z = load_npz(tmp_path / "results/tiny_tiny_imagenet/dataset.npz")
    assert z["x_train"].shape == (18, 3, 64, 64)
    m = json.loads((tmp_path / target).read_text())
    assert m["model"]["num_classes"] == 200 and m["model"]["in_channels"] == 3
    assert 0.0 <= m["test_accuracy"] <= 1.0


def test_jobs_chain_on_miniplaces(folders, tmp_path):
    config = tiny_config("miniplaces", folders["miniplaces"])
    f = {k: str(tmp_path / k) for k in ("dataset.npz", "init.pt", "reinit.pt", "arch.json", "metrics.json")}
    jobs.prepare_data(f["dataset.npz"], name="miniplaces", root=config["dataset"]["root"])
    jobs.init(f["init.pt"], f["reinit.pt"], f["arch.json"], model=config["model"], dataset="miniplaces", seed=0)
    h = H(**config["defaults"])
    m = jobs.train_run(f["metrics.json"], start=f["init.pt"], mask=None, data=f["dataset.npz"], kind="lottery",
                       h_find=h, h_eval=h, level=0, seed=0, training=config["training"],
                       augment=config["dataset"]["augment"], role="train_find")
    assert m["model"]["num_classes"] == 100 and m["epochs_completed"] == 1
    assert np.isfinite(m["test_loss"]) and 0.0 <= m["test_accuracy"] <= 1.0


# --------------------------------------------------------------------------- both public MiniPlaces layouts


def kit_layout(flat: Path, dest: Path) -> Path:
    """The MiniPlaces development kit as distributed: data/{train,val,categories}.txt beside images/."""
    shutil.copytree(flat, dest)
    (dest / "data").mkdir()
    for f in ("train.txt", "val.txt", "categories.txt"):
        (dest / f).rename(dest / "data" / f)
    return dest


def test_miniplaces_kit_layout_and_flattened_layout_prepare_the_same(folders, tmp_path):
    flat = folders["miniplaces"]
    kit = kit_layout(flat, tmp_path / "kit")
    assert not (kit / "train.txt").exists() and (kit / "data" / "train.txt").is_file()
    for root in (flat, kit):  # the parse-time check accepts both
        check_dataset({"name": "miniplaces", "root": str(root)})
    data.prepare("miniplaces", tmp_path / "flat.npz", root=flat, workers=2)
    data.prepare("miniplaces", tmp_path / "kit.npz", root=kit, workers=2)
    a, b = load_npz(tmp_path / "flat.npz"), load_npz(tmp_path / "kit.npz")
    for key in ("x_train", "y_train", "x_test", "y_test", "classes"):
        assert np.array_equal(a[key], b[key]), key


def test_miniplaces_kit_layout_incomplete_names_the_data_folder(folders, tmp_path):
    kit = kit_layout(folders["miniplaces"], tmp_path / "kit")
    (kit / "data" / "val.txt").unlink()
    with pytest.raises(ConfigError, match="val.txt") as err:
        check_dataset({"name": "miniplaces", "root": str(kit)})
    assert str(kit / "data" / "val.txt") in str(err.value)
    with pytest.raises(data.DataError) as err:
        data.prepare("miniplaces", tmp_path / "x.npz", root=kit, workers=2)
    assert str(kit / "data" / "val.txt") in str(err.value)


@pytest.mark.parametrize("name", ["tiny_imagenet", "miniplaces"])
def test_a_dataset_root_that_is_a_file_says_so(tmp_path, name):
    f = tmp_path / "dataset.tar"
    f.write_bytes(b"not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_dataset({"name": name, "root": str(f)})
    with pytest.raises(data.DataError, match="is a file, not a folder"):
        data.prepare(name, tmp_path / "x.npz", root=f)


# --------------------------------------------------------------------------- Fashion-MNIST (generated idx files)


def write_idx(path, array):
    """A gzipped uint8 idx file (magic 0x0000080<ndim>, big-endian sizes), as the official release writes."""
    import gzip

    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(head + array.tobytes())


def make_fashion(folder, n_train=60, n_test=30, seed=0):
    """The four files of the official release, with ``n_train``/``n_test`` 28x28 images of 10 balanced classes
    (image i of class c has the value of its index in the file on every pixel, so subsets can be traced)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        y = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        x = (np.arange(n, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8))
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", y)
        files[part] = (x, y)
    return files


def fashion_block(**kw):
    return {"name": "fashion_mnist", "root": None, "test_fraction": 0.2, "split_seed": 0, "n_train": None,
            "n_test": None, "resolution": None, "split": None, "download": False, **kw}


def test_idx_reader_and_its_errors(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", x)
    assert np.array_equal(data.read_idx(tmp_path / "a.gz"), x)
    import gzip

    with gzip.open(tmp_path / "short.gz", "wb") as fh:
        fh.write(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 3, 4)) + b"\0" * 5)
    with pytest.raises(data.DataError, match=r"header says \(2, 3, 4\).*holds 5"):
        data.read_idx(tmp_path / "short.gz")
    with gzip.open(tmp_path / "float.gz", "wb") as fh:
        fh.write(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\0" * 4)
    with pytest.raises(data.DataError, match="not a uint8 idx file"):
        data.read_idx(tmp_path / "float.gz")


def test_prepare_fashion_mnist_full_subsets_resolution(tmp_path):
    files = make_fashion(tmp_path / "fm")
    out = tmp_path / "full.npz"
    data.prepare("fashion_mnist", out, root=tmp_path / "fm")
    z = load_npz(out)
    assert z["x_train"].shape == (60, 1, 28, 28) and z["x_test"].shape == (30, 1, 28, 28)
    assert np.array_equal(z["x_train"][:, 0], files["train"][0]) and np.array_equal(z["y_test"], files["t10k"][1])
    assert int(z["num_classes"]) == 10
    np.testing.assert_allclose(z["mean"], [files["train"][0].mean() / 255], rtol=1e-6)
    # seeded stratified subsets: every class its share (2 of 6 per class, 1 of 3), chosen by split_seed
    for seed in (0, 1):
        data.prepare("fashion_mnist", tmp_path / f"s{seed}.npz", root=tmp_path / "fm", n_train=20, n_test=10,
                     resolution=14, split_seed=seed)
    a, b = load_npz(tmp_path / "s0.npz"), load_npz(tmp_path / "s1.npz")
    assert a["x_train"].shape == (20, 1, 14, 14) and a["x_test"].shape == (10, 1, 14, 14)
    assert np.bincount(a["y_train"]).tolist() == [2] * 10 and np.bincount(a["y_test"]).tolist() == [1] * 10
    assert not np.array_equal(a["x_train"], b["x_train"])  # another seed, other images
    picked = a["x_train"][:, 0, 0, 0]  # constant images: the value is the index in the file
    assert np.array_equal(files["train"][1][picked], a["y_train"]) and len(set(picked)) == 20
    data.prepare("fashion_mnist", tmp_path / "s0b.npz", root=tmp_path / "fm", n_train=20, n_test=10,
                 resolution=14, split_seed=0)
    assert all(np.array_equal(a[k], load_npz(tmp_path / "s0b.npz")[k]) for k in a)  # reproducible


def test_fashion_mnist_resolution_is_a_block_average(tmp_path):
    x = np.random.default_rng(3).integers(0, 256, (10, 1, 28, 28), dtype=np.uint8)
    small = data.downsample(x, 14)
    assert small.shape == (10, 1, 14, 14)
    assert small[4, 0, 2, 3] == int(np.rint(x[4, 0, 4:6, 6:8].astype(float).mean()))
    assert data.downsample(x, 28) is x


def test_fashion_mnist_split_train_holds_out_of_the_training_file(tmp_path):
    make_fashion(tmp_path / "fm")
    data.prepare("fashion_mnist", tmp_path / "o.npz", root=tmp_path / "fm", split="train", test_fraction=0.5)
    z = load_npz(tmp_path / "o.npz")
    assert len(z["y_train"]) == len(z["y_test"]) == 30  # 3 of 6 per class each
    assert set(z["x_train"][:, 0, 0, 0]).isdisjoint(z["x_test"][:, 0, 0, 0])  # disjoint images of the train file
    from findeval import datasets, regime

    d = datasets.REGISTRY["fashion_mnist"]
    assert d.sizes(fashion_block(split="train")) == (48_000, 12_000)
    assert d.sizes(fashion_block(n_train=5000, n_test=2000)) == (5000, 2000)
    assert regime.dataset_sizes(fashion_block(n_train=5000))["n_test"] == 10_000


def test_fashion_mnist_torchvision_layout_and_where_it_looks(tmp_path, monkeypatch):
    from dataclasses import replace

    from findeval import datasets

    make_fashion(tmp_path / "tv" / "FashionMNIST" / "raw")
    data.prepare("fashion_mnist", tmp_path / "tv.npz", root=tmp_path / "tv")  # torchvision's download layout
    assert load_npz(tmp_path / "tv.npz")["x_train"].shape == (60, 1, 28, 28)
    # no root: the system-wide folder (here a generated one in its place)
    system = replace(datasets.REGISTRY["fashion_mnist"], search=(str(tmp_path / "system"),))
    monkeypatch.setitem(datasets.REGISTRY, "fashion_mnist", system)
    monkeypatch.setitem(data.REGISTRY, "fashion_mnist", system)
    with pytest.raises(data.DataError, match=r"not found; looked in .*system.*apt-get install dataset-fashion-mnist"
                                             r".*dataset.download: true"):
        data.prepare("fashion_mnist", tmp_path / "none.npz")
    with pytest.raises(ConfigError, match=r"not found; looked in .*system.*apt-get install dataset-fashion-mnist"):
        check_dataset(fashion_block())
    from findeval.workflow import dataset_ready

    assert not dataset_ready(fashion_block()) and dataset_ready(fashion_block(root=str(tmp_path / "new")))
    with pytest.raises(ConfigError, match="dataset.download: true needs dataset.root"):
        check_dataset(fashion_block(download=True))  # a download needs the folder it goes into
    check_dataset(fashion_block(root=str(tmp_path / "new"), download=True))  # allowed: the preparation downloads
    with pytest.raises(ConfigError, match=r"dataset.root: .* not found; looked in .*FashionMNIST/raw.*apt-get"):
        check_dataset(fashion_block(root=str(tmp_path), download=False))
    make_fashion(tmp_path / "system")
    check_dataset(fashion_block())
    assert dataset_ready(fashion_block())
    data.prepare("fashion_mnist", tmp_path / "sys.npz", n_train=10, n_test=10)
    assert load_npz(tmp_path / "sys.npz")["x_train"].shape == (10, 1, 28, 28)


def test_fashion_mnist_download_only_where_allowed(tmp_path, monkeypatch):
    """download: true calls torchvision's FashionMNIST(root, train, download=True) into dataset.root (here a
    stand-in class that writes generated files where torchvision puts them); without it nothing is fetched."""
    import types

    calls = []

    class FakeFashion:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            make_fashion(tmp_path / "dl" / "FashionMNIST" / "raw")

    fake = types.ModuleType("torchvision.datasets")
    fake.FashionMNIST = FakeFashion
    monkeypatch.setitem(__import__("sys").modules, "torchvision.datasets", fake)
    monkeypatch.setattr(__import__("torchvision"), "datasets", fake, raising=False)
    with pytest.raises(data.DataError, match="not found"):
        data.prepare("fashion_mnist", tmp_path / "a.npz", root=tmp_path / "dl")
    assert calls == []
    data.prepare("fashion_mnist", tmp_path / "a.npz", root=tmp_path / "dl", download=True, n_train=10, n_test=10)
    assert calls == [(str(tmp_path / "dl"), True, True), (str(tmp_path / "dl"), False, True)]
    assert load_npz(tmp_path / "a.npz")["x_test"].shape == (10, 1, 28, 28)


@pytest.mark.parametrize("block, match", [
    (fashion_block(n_train=70_000), r"dataset.n_train: 70000 is not between 10 .* and 60000"),
    (fashion_block(n_test=20_000), r"dataset.n_test: 20000 is not between 10 .* and 10000"),
    (fashion_block(split="train", n_test=13_000), r"dataset.n_test: 13000 .* 12000"),
    ({"name": "digits", "resolution": 14}, r"dataset.resolution: dataset 'digits' does not take it \(only "
                                           r"fashion_mnist\)"),
    ({"name": "cifar10", "root": None, "download": True}, "dataset.download: dataset 'cifar10' does not take it"),
])
def test_dataset_option_errors(block, match):
    with pytest.raises(ConfigError, match=match):
        check_dataset(block)


def test_fashion_mnist_config_through_the_schema(tmp_path, tiny_raw):
    """The schema knows the options and fills their defaults; a wrong resolution is refused by name."""
    from conftest import SCHEMA
    from findeval.workflow import check_config, precheck_file

    make_fashion(tmp_path / "fm")
    config = validated({**tiny_raw, "dataset": {"name": "fashion_mnist", "root": str(tmp_path / "fm"),
                                                "n_train": 20, "n_test": 10, "resolution": 14}})
    assert config["dataset"]["split"] is None and config["dataset"]["download"] is False
    check_config(config)
    bad = {**config, "dataset": {**config["dataset"], "resolution": 13}}
    with pytest.raises(ConfigError, match="dataset.resolution: 13 is not allowed; choose from None, 4, 7, 14, 28"):
        precheck_file(bad, str(SCHEMA))


def test_regime_params_leave_out_unset_options(tiny_raw):
    """Rule regime's params hold the dataset options only where set: the schema's new entries (filled with
    their defaults) leave the params of a config that does not set them, and so its table, as they were."""
    from findeval import regime

    config = validated(tiny_raw)
    assert config["dataset"]["download"] is False and config["dataset"]["n_train"] is None
    assert set(regime.config_params(config)["dataset"]) == {"name", "root", "test_fraction", "split_seed",
                                                             "augment"}
    fm = {**config, "dataset": fashion_block(n_train=5000, resolution=14)}
    assert regime.config_params(fm)["dataset"]["n_train"] == 5000
    assert regime.config_params(fm)["dataset"]["resolution"] == 14 and "split" not in regime.config_params(fm)["dataset"]
