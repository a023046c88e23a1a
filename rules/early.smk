# Early pruning (Section 3.5, Fig. 9) and the LPR through training (Figs. A18, A19), planned only when the
# config has an `early_pruning:` block (see findeval.early for the semantics, findeval.paths for the paths):
#   early_find_chain   iterative early pruning: each level trained k epochs of the schedule, then pruned
#   early_eval_sweep   every early mask trained with H_eval for the whole schedule
#   lpr_trajectory     the dense level-0 find run again, with the LPR pruning would give after every epoch

from findeval.early import plan as early

early.check(config)
# runtime.group > 0: the sweeps pass **SWEEP_GROUP (rules/common.smk).


rule early_find_chain:
    input:
        data=paths.data(EXP),
        init=paths.init(EXP, "{seed}"),
    output:
        **early.chain_outputs(config, EXP),
    log:
        paths.log(EXP, "early_find_chain", "hfind", "epoch", "seed"),
    benchmark:
        paths.benchmark(EXP, "early_find_chain", "hfind", "epoch", "seed")
    wildcard_constraints:
        epoch=paths.INDEX,
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        hfind="{hfind}",
        epoch=lambda w: int(w.epoch),
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/early_find_chain.py"


# runtime.find_group > 0 (granularity chain): the early chains of one pruning epoch k and replicate whose H_find
# share a batch size (findeval.early.plan.find_groups) are one job each, in lock-step, as the find groups of
# rules/chains.smk; each writes the files of its chains' early_find_chain jobs and takes precedence over it.
EARLY_FIND_GROUPS = (
    early.find_groups(config, RUNTIME["find_group"]) if RUNTIME["granularity"] == "chain" else []
)

for _i, _hs in enumerate(EARLY_FIND_GROUPS):
    take_profile_settings(f"early_find_group_{_i}", "early_find_chain")

    rule:
        name:
            f"early_find_group_{_i}"
        input:
            data=paths.data(EXP),
            init=paths.init(EXP, "{seed}"),
        output:
            **early.group_outputs(config, EXP, _hs),
        log:
            paths.log(EXP, f"early_find_group_{_i}", "epoch", "seed"),
        benchmark:
            paths.benchmark(EXP, f"early_find_group_{_i}", "epoch", "seed")
        wildcard_constraints:
            epoch=paths.INDEX,
        conda:
            ENV
        threads: RUNTIME["threads"]
        resources:
            **GPU,
        params:
            **MAIN.train(),
            hfinds=[h.slug for h in _hs],
            epoch=lambda w: int(w.epoch),
            fraction=config["pruning"]["fraction"],
        script:
            "../scripts/early_find_group.py"

    workflow.ruleorder(f"early_find_group_{_i}", "early_find_chain")


rule early_eval_sweep:
    input:
        unpack(MAIN.input(early.eval_inputs(config))),
    output:
        **early.eval_outputs(config, EXP),
    log:
        paths.log(EXP, "early_eval_sweep", "hfind", "epoch", "heval", "seed"),
    benchmark:
        paths.benchmark(EXP, "early_eval_sweep", "hfind", "epoch", "heval", "seed")
    wildcard_constraints:
        epoch=paths.INDEX,
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **SWEEP_GROUP,
        **MAIN.train(),
        hfind="{hfind}",
        heval="{heval}",
        epoch=lambda w: int(w.epoch),
    script:
        "../scripts/early_eval_sweep.py"


rule lpr_trajectory:
    input:
        data=paths.data(EXP),
        init=paths.init(EXP, "{seed}"),
    output:
        table=paths.lpr_trajectory(EXP, "{hfind}", "{seed}"),
    log:
        paths.log(EXP, "lpr_trajectory", "hfind", "seed"),
    benchmark:
        paths.benchmark(EXP, "lpr_trajectory", "hfind", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        hfind="{hfind}",
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/lpr_trajectory.py"
