"""Early pruning (the paper's Section 3.5, Figure 9) and the LPR through training (Figures A18 and A19).

**Early pruning (fig9).** Iterative early pruning, as in the paper (its 55% compute saving is 1 - 50/110: every
pruning iteration trains only k epochs): the find chain of Algorithm A1 with each level's training stopped
after epoch k of the *full* schedule (same LR schedule, milestones and data order as the regular run, cut at
epoch k; ``findeval.training.train(stop_epoch=k)``):

    theta_0 --train epochs 1..k with H_find--> prune p (global magnitude) -> M_1 -> rewind theta_0 * M_1
            --train epochs 1..k--> prune -> M_2 -> ... -> M_N

Levels 0..N-1 are trained (k epochs each), masks M_1..M_N are written; level N is never trained in the chain (its
mask is final; training it would serve nothing the figure draws). Every mask is then evaluated with H_eval:
the ticket theta_0 * M_L trained for the *whole* schedule (A1 line 8, ``jobs.train_run``). Finding M_L costs
L * k epochs instead of the regular chain's L * E (the table's ``find_epochs`` / ``find_epochs_regular``;
``compute_saved`` = 1 - k / E). The curve "pruned at convergence" (k = E) is the regular pipeline's lottery
curve of (H_find, H_eval) (:func:`findeval.plan.metrics_path`): no run twice. The point at 0% sparsity of an
early curve is the dense network trained k epochs with H_find (the chain's level 0), as in the paper.

**LPR through training (figA18, figA19).** One job per (H_find, replicate) retrains the dense level-0 run of
the find chain (same theta_0, H_find, data order: bit for bit the run of ``find/<H_find>/seed<s>/level0`` on
CPU) and, at initialisation (epoch 0) and after every epoch, computes the mask the first pruning step would
give (:func:`findeval.masks.global_magnitude_prune` of the current weights) and its LPR. No weights are saved:
the job writes one table, ``ratio`` per (epoch, layer) and ``final_ratio`` (the LPR at the last epoch, that of
the regular M_1). figA19's distance at epoch n is the mean over layers of ``|ratio(n) - final_ratio|`` (pp).
This job is not resumable (its hook measures every epoch): a killed job starts again from epoch 0.

Paths (beside the regular layout of :mod:`findeval.plan`)::

    results/{exp}/early/find/{H_find}/epoch{k}/seed{s}/level{L}/trained.pt, metrics.json   L = 0..N-1
    results/{exp}/early/find/{H_find}/epoch{k}/seed{s}/level{L}/mask.h5, ticket.pt         L = 1..N
    results/{exp}/early/eval/{H_find}/epoch{k}/{H_eval}/seed{s}/level{L}/metrics.json      L = 1..N
    results/{exp}/early/lpr_trajectory/{H_find}/seed{s}.csv
    results/{exp}/early/{fig9,figA18,figA19}.csv       the numbers each figure draws

Config (optional block ``early_pruning``; without it, or with ``enabled: false``, none of this is planned):
``epochs`` (the k values; null: the paper's 20, 50 and 70 of 110 scaled to ``training.epochs``), ``lr_find``
(null: the LR find grid), ``h_eval`` (partial H; null: the defaults).

The first half of this module is pure Python on the config (the Snakefile imports it at parse time); the job
functions import torch and numpy lazily.
"""

from __future__ import annotations

import logging
import time
from decimal import ROUND_HALF_UP, Decimal

from . import plan
from .hparams import H, format_number, run_seeds
from .workflow import ConfigError

log = logging.getLogger("findeval")

FIGURES = ("fig9", "figA18", "figA19")
#: The paper's early pruning epochs (Fig. 9) out of its 110.
PAPER_EPOCHS = (20, 50, 70)
PAPER_TOTAL = 110


# =========================================================================== planning (parse time)


def _block(config: dict) -> dict:
    return config.get("early_pruning") or {}


def enabled(config: dict) -> bool:
    return "early_pruning" in config and config["early_pruning"] is not None and \
        bool(_block(config).get("enabled", True))


def total_epochs(config: dict) -> int:
    return int(config["training"]["epochs"])


def prune_epochs(config: dict) -> list[int]:
    """The epochs k at which masks are found, ascending: ``early_pruning.epochs``, or the paper's 20, 50 and
    70 of 110 scaled to ``training.epochs`` (rounded half up; duplicates and values outside 1..E-1 dropped)."""
    e = total_epochs(config)
    given = _block(config).get("epochs")
    if given is None:
        scaled = {int((Decimal(e * k) / PAPER_TOTAL).quantize(Decimal(1), ROUND_HALF_UP)) for k in PAPER_EPOCHS}
        ks = sorted(k for k in scaled if 1 <= k < e)
        if not ks:
            raise ConfigError(f"early_pruning.epochs: training.epochs = {e} leaves no epoch to prune early at")
        return ks
    bad = [k for k in given if not 1 <= int(k) < e]
    if bad:
        raise ConfigError(f"early_pruning.epochs: {bad} are not in 1..{e - 1} (training.epochs = {e}; pruning at "
                          f"convergence is the regular chain)")
    return sorted({int(k) for k in given})


def hfinds(config: dict) -> list[H]:
    """H_find of fig9, figA18 and figA19: the defaults with LR from ``early_pruning.lr_find`` (or the LR find grid)."""
    lrs = _block(config).get("lr_find") or plan.grid_values(config, "lr", "find")
    base = plan.default_h(config)
    return [base.replace(lr=v) for v in sorted(set(lrs))]


def figA18_hfinds(config: dict) -> list[H]:
    """H_find of figA18's panels, in order: ``figures.figA18.lr_find`` (paper L315: (a) 0.5, (b) 0.05), else
    the largest and the smallest of the early-pruning LR_find values (the paper's order: large first)."""
    lrs = ((config.get("figures") or {}).get("figA18") or {}).get("lr_find")
    if not lrs:
        own = sorted({h.lr for h in hfinds(config)})
        lrs = [own[-1], own[0]] if len(own) > 1 else own
    base = plan.default_h(config)
    return [base.replace(lr=v) for v in dict.fromkeys(lrs)]


def heval(config: dict) -> H:
    partial = _block(config).get("h_eval") or {}
    return plan.default_h(config).replace(**{k: v for k, v in partial.items() if v is not None})


def levels(config: dict) -> int:
    return plan.levels(config)


def _exp(config: dict) -> str:
    return plan.exp_dir(config)


def chain_dir(exp_dir: str, hfind: str, epoch, seed, level) -> str:
    return f"{exp_dir}/early/find/{hfind}/epoch{epoch}/seed{seed}/level{level}"


def eval_dir(exp_dir: str, hfind: str, epoch, heval_slug: str, seed, level) -> str:
    return f"{exp_dir}/early/eval/{hfind}/epoch{epoch}/{heval_slug}/seed{seed}/level{level}"


def trajectory_path(exp_dir: str, hfind: str, seed) -> str:
    return f"{exp_dir}/early/lpr_trajectory/{hfind}/seed{seed}.csv"


def data_path(config: dict, fig: str) -> str:
    return f"{_exp(config)}/early/{fig}.csv"


def metrics_path(config: dict, hfind: H, epoch: int, he: H, seed: int, level: int) -> str:
    """Metrics of the mask found at ``epoch`` (k < E: early chain; k = E: the regular chain) at ``level``
    trained with ``he``; level 0 is the dense network trained k epochs with H_find."""
    exp = _exp(config)
    if epoch == total_epochs(config):
        return plan.metrics_path(config, plan.Line("lottery", hfind, he), seed, level)
    if level == 0:
        return f"{chain_dir(exp, hfind.slug, epoch, seed, 0)}/metrics.json"
    return f"{eval_dir(exp, hfind.slug, epoch, he.slug, seed, level)}/metrics.json"


# --------------------------------------------------------------------------- rule file patterns


def named(pattern_dir: str, first: int, last: int, **files) -> dict:
    """``{name}_{L}`` -> ``{pattern_dir}/level{L}/{file}`` for L = first..last (wildcards kept)."""
    return {f"{name}_{lv}": f"{pattern_dir}/level{lv}/{file}" for name, file in files.items()
            for lv in range(first, last + 1)}


def chain_outputs(config: dict) -> dict:
    d = "results/{exp}/early/find/{hfind}/epoch{epoch}/seed{seed}"
    n = levels(config)
    return {**named(d, 0, n - 1, trained="trained.pt", metrics="metrics.json"),
            **named(d, 1, n, mask="mask.h5", ticket="ticket.pt")}


def eval_outputs(config: dict) -> dict:
    return named("results/{exp}/early/eval/{hfind}/epoch{epoch}/{heval}/seed{seed}", 1, levels(config),
                 metrics="metrics.json")


def eval_inputs(config: dict):
    n = levels(config)

    def inputs(w) -> dict:
        d = f"results/{w.exp}/early/find/{w.hfind}/epoch{w.epoch}/seed{w.seed}"
        return {**named(d, 1, n, start="ticket.pt", mask="mask.h5"), "data": f"results/{w.exp}/dataset.npz"}

    return inputs


# --------------------------------------------------------------------------- figures


def _files(config: dict, path_of, lvls) -> list[dict]:
    return [{"seed": int(s), "level": int(lv), "path": path_of(s, lv)} for s in config["seeds"] for lv in lvls]


def figure_params(config: dict, fig: str) -> dict:
    """Everything a figure job of this module draws, as plain values (Snakemake params)."""
    e, n, he = total_epochs(config), levels(config), heval(config)
    base = {"figure": fig, "epochs": e, "levels": n, "fraction": config["pruning"]["fraction"],
            "experiment": config["experiment"], "dataset": config["dataset"]["name"],
            "model": config["model"]["name"], "heval": he.slug,
            "milestones": list(config["training"].get("milestones") or [])}
    exp = _exp(config)
    if fig == "fig9":
        panels = []
        for hf in hfinds(config):
            lines = []
            for k in [*prune_epochs(config), e]:
                label = f"pruned at epoch {k}" + (" (convergence)" if k == e else
                                                   f", find compute -{100 * (1 - k / e):.0f}%")
                lines.append({"label": label, "prune_epoch": k,
                              "files": _files(config, lambda s, lv, k=k, hf=hf: metrics_path(config, hf, k, he, s, lv),
                                              range(0, n + 1))})
            panels.append({"title": f"LR_find = {format_number(hf.lr)}; H_eval {he.slug}", "hfind": hf.slug,
                           "lines": lines})
        return {**base, "panels": panels}
    if fig in ("figA18", "figA19"):
        lines = [{"label": f"LR_find = {format_number(hf.lr)}", "hfind": hf.slug,
                  "files": [{"seed": int(s), "path": trajectory_path(exp, hf.slug, s)} for s in config["seeds"]]}
                 for hf in (figA18_hfinds(config) if fig == "figA18" else hfinds(config))]
        return {**base, "lines": lines}
    raise ValueError(f"unknown early-pruning figure {fig!r}; choose from {FIGURES}")


def figure_inputs(config: dict, fig: str) -> list[str]:
    p = figure_params(config, fig)
    lines = [ln for panel in p["panels"] for ln in panel["lines"]] if fig == "fig9" else p["lines"]
    return sorted({f["path"] for ln in lines for f in ln["files"]})


def figure_files(config: dict) -> list[str]:
    """The default target's share: fig9, figA18, figA19 as PDF and PNG (none without an early_pruning block)."""
    if not enabled(config):
        return []
    return plan.figure_files(config, FIGURES)


def check(config: dict) -> None:
    """Config errors at parse time (epochs out of range, an invalid H)."""
    if enabled(config):
        prune_epochs(config)
        try:
            hfinds(config), heval(config), figA18_hfinds(config)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"early_pruning: {err}") from err


# =========================================================================== jobs (job time)


def train_until(out_metrics: str, *, out_trained: str | None, start: str, mask: str | None, data: str, h_find: H,
                level: int, seed: int, stop_epoch: int, training: dict, augment: dict | None,
                role: str = "train_find_early", device: str = "cpu", threads: int = 1, precision: str = "fp32",
                channels_last: bool = False) -> dict:
    """``jobs.train_run`` for a find run stopped after epoch ``stop_epoch`` of the schedule: the same inputs,
    checks, seeds (those of the lottery run of this level), resume file and metrics, plus ``prune_epoch``."""
    from . import jobs, training as tr
    from .io import save_checkpoint, write_json

    every = jobs.resume_every()
    jobs.set_threads(threads)
    device = jobs.resolve_device(device)
    run = jobs.load_run(start, mask, data, level, device)
    model, meta = run.model, run.meta
    seeds = run_seeds(seed, "lottery", level)
    schedule, aug = tr.Schedule.from_config(training), tr.Augment.from_config(augment)
    if not 1 <= int(stop_epoch) <= schedule.epochs:
        raise ValueError(f"stop_epoch {stop_epoch} is not in 1..{schedule.epochs}")
    resume = None
    if every:
        fingerprint = jobs.resume_fingerprint(
            start=start, mask=mask, data=data, kind="early", role=role, level=level, seeds=seeds,
            h_find=h_find.as_dict(), h_eval=h_find.as_dict(), schedule=schedule.__dict__, augment=aug.__dict__,
            device=device, stop_epoch=int(stop_epoch), precision=precision, channels_last=bool(channels_last))
        resume = tr.Resume(jobs.resume_path(out_metrics), fingerprint, every)
    t0 = time.perf_counter()
    result = tr.train(model, run.dataset, h_find, schedule, data_seed=seeds["data"], mask=run.mask, augment=aug,
                      device=device, log=log.info, resume=resume, precision=precision, channels_last=channels_last,
                      stop_epoch=int(stop_epoch))
    metrics = {"kind": "early", "role": role, "level": level, "seed": seed, "seeds": seeds,
               "H_find": h_find.as_dict(), "H_eval": h_find.as_dict(), "prune_epoch": int(stop_epoch),
               "epochs": int(stop_epoch), "schedule_epochs": training["epochs"], **run.outcome(result, t0)}
    if out_trained:
        save_checkpoint(out_trained, model.state_dict(), {**meta, "role": "trained", "level": level,
                                                          "H": h_find.as_dict(), "diverged": result["diverged"],
                                                          "prune_epoch": int(stop_epoch)})
    write_json(out_metrics, metrics)
    if resume is not None:
        resume.remove()
    return metrics


def prune_early(out_mask: str, *, prune_epoch: int, **kwargs):
    """``jobs.prune`` (A1 line 5), the mask file also recording ``prune_epoch``."""
    import h5py

    from . import jobs, masks
    from .io import atomic_path

    with atomic_path(out_mask) as tmp:
        mask = jobs.prune(str(tmp), **kwargs)
        with h5py.File(tmp, "a", locking=masks._locking()) as f:
            f.attrs["prune_epoch"] = int(prune_epoch)
    return mask


def early_chain(*, trained: dict, metrics: dict, masks_out: dict, tickets: dict, init: str, data: str, h_find: H,
                prune_epoch: int, seed: int, fraction: float, training: dict, augment: dict | None,
                device: str = "cpu", threads: int = 1, **speed) -> None:
    """Iterative early pruning for one (H_find, k, replicate): train k epochs -> prune -> rewind, levels 0..N-1
    trained (``trained``/``metrics``), masks and tickets 1..N (``masks_out``/``tickets``)."""
    from . import jobs

    trained_levels = sorted(metrics)
    n = len(trained_levels)
    if trained_levels != list(range(n)) or sorted(trained) != trained_levels or n < 1 \
            or sorted(masks_out) != list(range(1, n + 1)) or sorted(tickets) != list(range(1, n + 1)):
        raise ValueError(f"an early chain trains levels 0..N-1 and masks 1..N: got metrics {trained_levels}, "
                         f"masks {sorted(masks_out)}, tickets {sorted(tickets)}")
    for level in trained_levels:
        train_until(metrics[level], out_trained=trained[level], start=tickets.get(level, init),
                    mask=masks_out.get(level), data=data, h_find=h_find, level=level, seed=seed,
                    stop_epoch=prune_epoch, training=training, augment=augment, device=device, threads=threads,
                    **speed)
        prune_early(masks_out[level + 1], prune_epoch=prune_epoch, trained=trained[level],
                    parent_mask=masks_out.get(level), fraction=fraction, level=level + 1, seed=seed, h_find=h_find)
        jobs.rewind(tickets[level + 1], start=init, mask=masks_out[level + 1])


def early_eval_sweep(*, metrics: dict, starts: dict, masks_in: dict, data: str, h_find: H, h_eval: H,
                     prune_epoch: int, seed: int, training: dict, augment: dict | None, device: str = "cpu",
                     threads: int = 1, group: int = 0, **speed) -> None:
    """A1 line 8 for every early mask of one chain with one H_eval (the whole schedule, ``jobs.train_run``); the
    metrics record ``kind: early`` and ``prune_epoch``. ``group`` > 0 (runtime.group): grouped networks of at
    most ``group`` levels (``jobs.grouped_sweep``)."""
    from . import jobs
    from .io import write_json

    if group:
        jobs.grouped_sweep(group, metrics=dict(sorted(metrics.items())), starts=starts, masks_in=masks_in,
                           data=data, kind="lottery", h_find=h_find, h_eval=h_eval, seed=seed, training=training,
                           augment=augment, device=device, threads=threads, role="train_eval_early",
                           update={"kind": "early", "prune_epoch": int(prune_epoch)}, **speed)
        return

    for level, out in sorted(metrics.items()):
        m = jobs.train_run(out, start=starts[level], mask=masks_in[level], data=data, kind="lottery", h_find=h_find,
                           h_eval=h_eval, level=level, seed=seed, training=training, augment=augment,
                           role="train_eval_early", device=device, threads=threads, **speed)
        m.update(kind="early", prune_epoch=int(prune_epoch))
        write_json(out, m)


TRAJECTORY_COLUMNS = ["hfind", "seed", "epoch", "lr", "test_accuracy", "layer_index", "layer", "pruned", "total",
                      "ratio", "sparsity", "final_ratio"]


def lpr_trajectory(out_table: str, *, init: str, data: str, h_find: H, seed: int, fraction: float, training: dict,
                   augment: dict | None, device: str = "cpu", threads: int = 1, precision: str = "fp32",
                   channels_last: bool = False, out_trained: str | None = None):
    """The dense level-0 find run of (H_find, replicate) again, measuring after every epoch (and at epoch 0, the
    initialisation) the LPR the first pruning step would give. Writes the table (:data:`TRAJECTORY_COLUMNS`);
    ``out_trained`` (tests) also saves the final weights, which equal the find chain's level-0 ``trained.pt``."""
    import pandas as pd

    from . import jobs, masks, models, training as tr
    from .io import atomic_path, load_checkpoint, save_checkpoint

    jobs.set_threads(threads)
    device = jobs.resolve_device(device)
    masks.prune_count(1, fraction)
    state, meta = load_checkpoint(init)
    spec = meta.get("model_spec")
    if not spec:
        raise ValueError(f"checkpoint {init} has no meta['model_spec']; was it written by findeval?")
    model = models.build(spec)
    models.load_state(model, state, f"checkpoint {init}")
    dataset = jobs.load_data(data, device)
    jobs.check_data_fits(dataset, spec, data, init)
    seeds = run_seeds(seed, "lottery", 0)
    schedule, aug = tr.Schedule.from_config(training), tr.Augment.from_config(augment)
    names = models.prunable_names(model)
    measured = []

    def measure(epoch: int, net) -> None:
        weights = {k: v for k, v in net.state_dict().items() if k in names}
        mask = masks.global_magnitude_prune(weights, None, fraction)
        measured.append((epoch, masks.layer_table(mask), masks.sparsity(mask)))

    measure(0, model)
    result = tr.train(model, dataset, h_find, schedule, data_seed=seeds["data"], augment=aug, device=device,
                      log=log.info, precision=precision, channels_last=channels_last, on_epoch_end=measure)
    history = {row["epoch"]: row for row in result["history"]}
    final = {r["name"]: r["ratio"] for r in measured[-1][1]}
    rows = []
    for epoch, table, sp in measured:
        h = history.get(epoch, {})
        for i, r in enumerate(table):
            rows.append({"hfind": h_find.slug, "seed": int(seed), "epoch": epoch, "lr": h.get("lr"),
                         "test_accuracy": h.get("test_accuracy"), "layer_index": i, "layer": r["name"],
                         "pruned": r["pruned"], "total": r["total"], "ratio": r["ratio"], "sparsity": sp,
                         "final_ratio": final[r["name"]]})
    df = pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
    with atomic_path(out_table) as tmp:
        df.to_csv(tmp, index=False)
    if out_trained:
        save_checkpoint(out_trained, model.state_dict(), {**meta, "role": "trained", "level": 0,
                                                          "H": h_find.as_dict(), "diverged": result["diverged"]})
    log.info("LPR through training of %s seed %d: %d epochs measured, final test accuracy %.4f%s", h_find.slug,
             seed, len(measured) - 1, result["test_accuracy"], " (diverged)" if result["diverged"] else "")
    return df
