"""Defaults in one place: every default a settings class or helper carries equals the schema's
(schemas/config.schema.yaml fills a validated config, so a disagreeing default would only bite a direct
caller, silently), and the counts and definitions shared by several modules are written once."""

from __future__ import annotations

import dataclasses
import inspect

from conftest import REPO, SCHEMA, read_yaml
from findeval import regime, training
from findeval.structured import jobs as structured_jobs


def schema_defaults(*path: str) -> dict:
    """``{key: default}`` of the schema's object at ``path`` (property names)."""
    node = read_yaml(SCHEMA)
    for key in path:
        node = node["properties"][key]
    return {k: v["default"] for k, v in node["properties"].items() if "default" in v}


def dataclass_defaults(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def listed(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def test_schedule_defaults_are_the_schemas():
    schema = schema_defaults("training")
    ours = dataclass_defaults(training.Schedule)
    assert set(ours) == set(schema) == {"schedule", "milestones", "gamma", "momentum", "nesterov", "warmup_iters",
                                        "label_smoothing"}
    assert listed(ours) == schema
    assert training.Schedule is regime.Schedule
    assert listed(regime.TRAINING_DEFAULTS) == {k: schema[k] for k in regime.TRAINING_DEFAULTS}
    params = inspect.signature(regime.lr_factor).parameters
    assert {k: params[k].default for k in ("schedule", "gamma", "warmup_iters")} == {
        k: schema[k] for k in ("schedule", "gamma", "warmup_iters")}


def test_augment_defaults_are_the_schemas():
    schema = schema_defaults("dataset", "augment")
    ours = dataclass_defaults(training.Augment)
    assert listed({k: ours[k] for k in schema}) == schema
    assert ours["enabled"] is True


def test_structured_training_defaults_are_the_schemas():
    schema = schema_defaults("structured", "training")
    assert structured_jobs.TRAINING_DEFAULTS == schema
    s = structured_jobs.schedule({"epochs": 3}, iters=5)
    assert (s.schedule, s.gamma, s.momentum, s.nesterov, s.warmup_iters, s.label_smoothing) == (
        schema["schedule"], schema["gamma"], schema["momentum"], schema["nesterov"], 5 * schema["warmup_epochs"],
        schema["label_smoothing"])


def test_steps_per_epoch_and_prunable_are_defined_once():
    """The partial-batch rule and "prunable = 4-D .weight" are written in one module each."""
    sources = {str(p.relative_to(REPO / "findeval")): p.read_text() for p in (REPO / "findeval").rglob("*.py")}
    assert [name for name, text in sources.items() if "rest > 1" in text] == ["regime.py"]
    assert [name for name, text in sources.items() if 'endswith(".weight")' in text] == ["masks.py"]
    assert not hasattr(structured_jobs, "iterations_per_epoch")


def test_prunable_names_of_a_model_and_of_its_state_agree():
    from findeval import masks, models

    m = models.build({"name": "resnet_cifar", "depth": 8, "width": 4, "in_channels": 1, "num_classes": 10})
    names = models.prunable_names(m)
    assert names == models.prunable_names(m.state_dict()) == list(masks.prunable_shapes(m.state_dict()))
    assert len(names) == 9 and all(masks.is_prunable(n, m.state_dict()[n].shape) for n in names)
    assert not masks.is_prunable("fc.weight", (10, 16)) and not masks.is_prunable("conv1.bias", (4, 1, 3, 3))
