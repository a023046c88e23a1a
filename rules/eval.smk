# A1 line 8: evaluate a mask by training it with H_eval. {source} is lottery/<H_find>,
# preserve_lpr/<H_find> or global_random. A lottery mask with H_eval == H_find is never trained here:
# that evaluation is its find run (see findeval.a1.plan).


rule train_eval:
    input:
        unpack(train_eval_input),
    output:
        metrics=paths.level_file(
            paths.eval_sweep("{exp}", "{source}", "{heval}", "{seed}"), "{level}", "metrics"
        ),
    log:
        paths.log("{exp}", "train_eval", "source", "heval", "seed", "level"),
    benchmark:
        paths.benchmark("{exp}", "train_eval", "source", "heval", "seed", "level")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **JOB.train(),
        kind=source_kind,
        hfind=source_hfind,
        heval="{heval}",
    script:
        "../scripts/train.py"
