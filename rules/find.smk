# Algorithm A1: train with H_find (line 4) -> prune p% of the remaining weights globally (line 5)
# -> rewind to theta_0 (line 6) -> train the next level.


rule train_find:
    input:
        unpack(train_find_input),
    output:
        trained=paths.find_file("{exp}", "{hfind}", "{seed}", "{level}", "trained"),
        metrics=paths.find_file("{exp}", "{hfind}", "{seed}", "{level}", "metrics"),
    log:
        paths.log("{exp}", "train_find", "hfind", "seed", "level"),
    benchmark:
        paths.benchmark("{exp}", "train_find", "hfind", "seed", "level")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **JOB.train(),
        kind="lottery",
        hfind="{hfind}",
        heval="{hfind}",
    script:
        "../scripts/train.py"


rule prune:
    input:
        unpack(prune_input),
    output:
        mask=paths.find_file("{exp}", "{hfind}", "{seed}", "{level}", "mask"),
    log:
        paths.log("{exp}", "prune", "hfind", "seed", "level"),
    localrule: True
    conda:
        ENV
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune.py"


rule rewind:
    input:
        start=paths.init("{exp}", "{seed}"),
        mask=paths.find_file("{exp}", "{hfind}", "{seed}", "{level}", "mask"),
    output:
        ticket=paths.find_file("{exp}", "{hfind}", "{seed}", "{level}", "ticket"),
    log:
        paths.log("{exp}", "rewind", "hfind", "seed", "level"),
    localrule: True
    conda:
        ENV
    script:
        "../scripts/rewind.py"
