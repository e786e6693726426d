"""lmms-eval model plugin: score any checkpoint of a sequence on lmms-eval's benchmarks (MVBench, MME, POPE, …).

    pip install lmms-eval            # needs torchvision: a GPU machine, not a core dependency
    # lmms-eval >= 0.7 finds the plugin by its entry point; older ones need LMMS_EVAL_PLUGINS=eval.lmms_plugin
    python -m lmms_eval --model keeplora \\
        --model_args recipe=recipes/video_seq.yaml,checkpoint=runs/video_seq/task_08_STAR,batch_size=8 \\
        --tasks mvbench --output_path runs/video_seq/lmms_eval
    # multi-GPU: accelerate launch --num_processes 8 -m lmms_eval … (lmms-eval shards the requests)

The model is loaded by the recipe's family adapter and prompted exactly as in training (chat template,
media placeholders); generation goes through this project's batched harness. Generation tasks only
(``generate_until``); log-likelihood tasks are refused with a clear message.
"""
