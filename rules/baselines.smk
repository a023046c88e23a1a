# Random baselines (Section 2.3): trained from a new random init (reinit.pt) with H_eval.


rule global_random_mask:
    input:
        architecture=paths.architecture("{exp}", "{seed}"),
    output:
        mask=paths.level_file(paths.global_random_masks("{exp}", "{seed}"), "{level}", "mask"),
    log:
        paths.log("{exp}", "global_random_mask", "seed", "level"),
    localrule: True
    conda:
        ENV
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/global_random_mask.py"


rule preserve_lpr_mask:
    input:
        mask=paths.find_file("{exp}", "{hfind}", "{seed}", "{level}", "mask"),
    output:
        mask=paths.level_file(
            paths.preserve_lpr_masks("{exp}", "{hfind}", "{seed}"), "{level}", "mask"
        ),
    log:
        paths.log("{exp}", "preserve_lpr_mask", "hfind", "seed", "level"),
    localrule: True
    conda:
        ENV
    script:
        "../scripts/preserve_lpr_mask.py"
