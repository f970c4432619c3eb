"""Every curve in ../runs/: which record it comes from, what was injected, and the hand-checked labels.

`python to_curve.py build` writes them. Labels were set by reading `to_curve.py look` summaries
(per-step values around the injected steps, 40-bucket mean/min/max tables, every val point);
the numbers quoted in `checked` are from those.
"""

import math

LN10 = round(math.log(10), 6)

COMMON = {
    "nanogpt": dict(kind="nanogpt", repo="karpathy/nanoGPT", commit="3adf61e154c3fe3fca428ad6bc3818b27a3b8291",
                    script="train.py", field="language",
                    data="char-level: the first 1,000,000 ASCII chars of the sorted, concatenated /usr/lib/python3.11/*.py "
                         "(data/shakespeare_char/prepare.py on it: vocab 96, train 900k / val 100k tokens)",
                    chance=round(math.log(96), 6)),
    "makemore": dict(kind="makemore", repo="karpathy/makemore", commit="988aa59e4d8fefa526d06f3b453ad116258398d4",
                     script="makemore.py", field="language",
                     data="identifiers.txt: 18,031 unique lowercase alphabetic pieces (3-12 letters) of identifiers in "
                          "/usr/lib/python3.11/**/*.py (17,031 train / 1,000 test)",
                     chance=round(math.log(27), 6)),
    "mnist": dict(kind="mnist", repo="pytorch/examples", commit="77f55b912142e11fcfdf5b530231fb9c52f181e8",
                  script="mnist/main.py", field="vision",
                  data="MNIST-format stand-in, 3000 train / 500 test (10 random-stroke templates at random shifts + "
                       "noise; /tmp/work/real/make_data/make_mnist.py), no shuffle on CPU",
                  chance=LN10),
    "wlm": dict(kind="wlm", repo="pytorch/examples", commit="77f55b912142e11fcfdf5b530231fb9c52f181e8",
                script="word_language_model/main.py", field="language",
                data="wikitext-2-like: space-tokenised lines of /usr/share/doc/*/copyright + README* (train ~55k words, "
                     "valid ~9k, test ~9k; vocab 1787)",
                chance=round(math.log(1787), 6)),
    "lit": dict(kind="lit", repo="lightning (example of the usual shape, benchmarks/curves/make/lit_classifier.py)",
                commit="lightning 2.6.6", script="benchmarks/curves/make/lit_classifier.py", field="vision",
                data="the same MNIST-format stand-in as mnist (3000 train / 500 test)", chance=LN10),
    "hf": dict(kind="hf", repo="huggingface/transformers Trainer (benchmarks/curves/make/hf_tiny_gpt2.py)",
               commit="transformers 5.24.0", script="benchmarks/curves/make/hf_tiny_gpt2.py", field="language",
               logging="every 10 steps (HF Trainer log_history: mean loss since the last log), eval every 50",
               data="characters of /tmp/work/real/corpus/pysrc_1MB.txt (the first 1M ASCII chars of the sorted, "
                    "concatenated /usr/lib/python3.11/*.py), 96 symbols, blocks of 64; val = 200 blocks after char 900k",
               chance=round(math.log(96), 6)),
}


def lab(kind, onset, last, metric="loss", note=""):
    return {"kind": kind, "metric": metric, "onset": onset, "window": [onset, last], "note": note}


def dc(a, b, why):
    return {"window": [a, b], "why": why}


FIRST = dc(0, 3, "first steps")

CURVES = [
    # ---------------- pytorch/examples mnist (Adadelta lr 1.0, StepLR 0.7/epoch, 376 steps, 2 test evals)
    dict(id="mnist-healthy", codebase="mnist", rec="mnist-healthy", title="pytorch/examples mnist, defaults (Adadelta lr 1.0), 2 epochs",
         injected="none", dont_care=[FIRST],
         checked="loss 2.29, 4.10 at step 2 (first-step transient), then falls steadily with batch noise (0.1-1.5) to ~0.55 "
                 "by the end; test 1.08 (step 188) -> 0.38 (376). Nothing to warn about."),
    dict(id="mnist-lr50", codebase="mnist", rec="mnist-lr50", title="pytorch/examples mnist, Adadelta at --lr 50 (50x the default)",
         injected="LR x50 from step 1 (script flag --lr 50)",
         labels=[lab("divergence", 2, 52, note="2.29 -> 4999 at step 2, then stuck at ln 10 (chance) to the end")],
         dont_care=[dc(0, 1, "first step"), dc(53, 376, "after the blow-up: collapsed at chance, the broken stretch")],
         checked="loss 2.29, 4999 at step 2, 2.67, 2.40, then 2.2-2.5 (mean 2.32 = ln 10) flat for all 376 steps; "
                 "test 2.35, 2.34 (10% accuracy)."),
    dict(id="mnist-badbatch", codebase="mnist", rec="mnist-badbatch", title="pytorch/examples mnist, two garbage batches (random labels)",
         injected="random labels for the whole batch at steps 150 and 300 (inject.py --bad-labels)",
         labels=[lab("spike", 150, 155, note="1.1 -> 5.86 at step 150, back to ~1.3 at 151"),
                 lab("spike", 300, 305, note="0.6 -> 4.90 at step 300, back to 0.83 at 301")],
         dont_care=[FIRST],
         checked="neighbours ~0.8-1.3 around 150, value 5.864 at 150 then 1.60, 1.27; ~0.3-1.0 around 300, 4.901 at 300 "
                 "then 0.83, 0.55. Otherwise like mnist-healthy (test 1.13, 0.39)."),
    dict(id="mnist-lr-low", codebase="mnist", rec="mnist-lr-low", title="pytorch/examples mnist, Adadelta at --lr 0.01 (1/100 of the default)",
         injected="LR x0.01 from step 1 (script flag --lr 0.01)",
         labels=[lab("lr_too_low", 30, 376, note="slow steady descent: 2.30 -> ~2.0 in 376 steps (healthy: 0.55)")],
         dont_care=[FIRST],
         checked="bucket means 2.30, 2.27 (step 28), 2.24 (82), 2.16 (136), 2.14 (217), 2.05 (298), ~2.0 at the end; "
                 "healthy is at 2.09 by step 28. Test 2.13, 1.96 (healthy 1.08, 0.38)."),
    # ---------------- pytorch/examples word_language_model (LSTM 200/200, SGD lr 20 by hand, clip 0.25, 450 steps)
    dict(id="wlm-healthy", codebase="wlm", rec="wlm-healthy", title="pytorch/examples word_language_model, 2-layer LSTM 200, lr 20, 3 epochs",
         injected="none", dont_care=[FIRST],
         checked="loss 7.49 -> 6.0 by step 12 -> 5.0 (150) -> 4.1 (300) -> 3.3 (450), with a repeating per-epoch pattern "
                 "(the batches come in corpus order); valid 4.42, 3.27, 2.80. Nothing to warn about."),
    dict(id="wlm-lr200", codebase="wlm", rec="wlm-lr200", title="pytorch/examples word_language_model at --lr 200 (10x)",
         injected="LR x10 from step 1 (script flag --lr 200)",
         labels=[lab("divergence", 2, 52, note="7.49 -> 14.3, 17.6, 22.6 ... up to 70 in the first 12 steps")],
         dont_care=[dc(0, 1, "first step"), dc(53, 450, "after the blow-up: loss 12-24, far above the initial 7.49 (chance 7.49), the broken stretch")],
         checked="loss 7.49 then 14.3 at step 2, bucket means 37.5, 35.5, 30.3 (steps 1-33), then 13-24 to the end (12.7 last); "
                 "valid 21.4, 16.6, 11.7 vs chance ln 1787 = 7.49."),
    dict(id="wlm-nan", codebase="wlm", rec="wlm-nan", title="pytorch/examples word_language_model, NaN gradient at step 200",
         injected="backward at step 200 with a NaN gradient (inject.py --nan-grad 200): the update poisons the weights",
         labels=[lab("nonfinite", 201, 205, note="loss NaN from step 201 to the end")],
         dont_care=[FIRST, dc(206, 450, "after the NaN: every value NaN (the script anneals lr 20 -> 5 on the NaN valid loss)")],
         checked="loss 4.39 at step 200, NaN at 201 and every step after; valid 4.42 (150), NaN, NaN."),
    dict(id="wlm-lrwindow", codebase="wlm", rec="wlm-lrwindow", title="pytorch/examples word_language_model, lr x10 for steps 200-260",
         injected="the script's global lr x10 (20 -> 200) for steps 200..260, then back (inject.py --lr-global 200:260:10)",
         labels=[lab("divergence", 201, 251, note="4.39 at step 200 -> 17.0 at 201, 10-31 through the window")],
         dont_care=[FIRST, dc(262, 450, "after the window: recovers 14 -> 5.6 but stays above healthy (3.3); the script "
                                         "annealed lr to 5 when valid got worse; slow recovery, ambiguous")],
         checked="same as wlm-healthy to step 200 (4.39); 16.97 at 201, 10.5, 10.6, 19.3, 30.9 ...; bucket means 15-26 for "
                 "steps 199-264; back to 12.5, 8.8, 8.1, ... 5.6 at the end. valid 4.42, 7.20, 5.07 (healthy 4.42, 3.27, 2.80)."),
    dict(id="wlm-lr-low", codebase="wlm", rec="wlm-lr-low", title="pytorch/examples word_language_model at --lr 0.2 (1/100)",
         injected="LR x0.01 from step 1 (script flag --lr 0.2)",
         labels=[lab("lr_too_low", 15, 450, note="slow: 7.49 -> 6.0 takes ~90 steps (healthy: 12), then ~5.5 to the end (healthy 3.3)")],
         dont_care=[FIRST],
         checked="bucket means 7.46, 7.39, 7.30, 7.16, 7.00, 6.72, 6.36, 6.07 (steps 1-88), then 5.4-5.9 to the end; "
                 "valid 5.30, 5.13, 5.08 (healthy 4.42, 3.27, 2.80)."),
    dict(id="wlm-smalldata", codebase="wlm", rec="wlm-overfit", title="pytorch/examples word_language_model, 11.7k-word train set, 15 epochs",
         injected="none (a small train set: the first 60,000 bytes of train.txt; meant to overfit)",
         dont_care=[FIRST, dc(250, 480, "valid flat at 4.63-4.64 while train flattens at ~3.7 (the script annealed lr "
                                          "20 -> 0.005 whenever valid did not improve); a gap, but no upturn")],
         checked="meant as an overfitting run, but the script's own LR annealing stops it: valid 5.88, 5.81, 5.14, 5.25 (one "
                 "uptick at step 128, lr then /4), 4.80, 4.75, 4.69, 4.65, 4.65, 4.63, 4.63, 4.64 x4; train 7.2 -> 3.7, flat "
                 "from ~step 330. No overfitting upturn: labelled healthy."),
]

CURVES += [
    # ---------------- karpathy/makemore (transformer 2x32, AdamW 5e-4 constant, batch 32, 3001 steps, eval every 500)
    dict(id="makemore-healthy", codebase="makemore", rec="mm-healthy", title="karpathy/makemore transformer (2 layers, 32 wide), defaults, 3001 steps",
         injected="none", dont_care=[FIRST],
         checked="loss 3.39 (ln 27 = 3.30) -> 2.81 (bucket at 76) -> 2.63 (300) -> 2.52 (1000) -> 2.46 (1500) -> 2.40 (3000), "
                 "batch noise +-0.15; test 2.585, 2.510, 2.465, 2.431, 2.405, 2.384. A slow smooth plateau, nothing to warn about."),
    dict(id="makemore-lr-low", codebase="makemore", rec="mm-lr-low", title="karpathy/makemore at -l 5e-6 (1/100 of the default)",
         injected="LR x0.01 from step 1 (script flag --learning-rate 5e-6)",
         labels=[lab("lr_too_low", 30, 3001, note="barely moving: 3.41 -> 3.09 in 3000 steps, straight line (healthy: 2.40)")],
         dont_care=[FIRST],
         checked="bucket means 3.41 (1-75), 3.40 (76), 3.39 (226), 3.36 (451), 3.30 (901), 3.25 (1351), 3.19 (1801), 3.12 "
                 "(2476), 3.09 (2926); healthy is at 2.81 by step 76. test 3.35, 3.29, 3.23, 3.17, 3.12, 3.08 (healthy 2.58 .. 2.38)."),
    dict(id="makemore-lrdrop", codebase="makemore", rec="mm-lrdrop", title="karpathy/makemore, LR cut to 1% at step 1000 (a bad schedule edit)",
         injected="LR x0.01 from optimizer step 1000 to the end (inject.py --lr-scale 1000:end:0.01)",
         labels=[lab("lr_drop", 1000, 2000, note="lr 5e-4 -> 5e-6 at step 1000 (in the lr series); the loss then stays at ~2.52 "
                                                   "while the healthy run goes on to 2.40")],
         dont_care=[FIRST],
         checked="identical to makemore-healthy up to step 999; lr 5e-6 from 1000; loss bucket means 2.528, 2.531, 2.520, 2.506, "
                 "2.518, ... 2.52 at 3000 (healthy 2.52 -> 2.40); test 2.5105 (1001), 2.5066, 2.5048, 2.5032, 2.5021 vs healthy "
                 "2.510, 2.465, 2.431, 2.405, 2.384. The stall is gentle: visible against healthy from ~1300 on."),
    dict(id="makemore-badbatch", codebase="makemore", rec="mm-badbatch", title="karpathy/makemore, three garbage batches (random labels)",
         injected="random labels (targets) for the whole batch at steps 700, 1500, 2300 (inject.py --bad-labels)",
         labels=[lab("spike", 700, 705, note="2.57 -> 4.19 at 700, 2.52 at 701"),
                 lab("spike", 1500, 1505, note="2.46 -> 4.28 at 1500, 2.54 at 1501"),
                 lab("spike", 2300, 2305, note="2.47 -> 4.31 at 2300, 2.42 at 2301")],
         dont_care=[FIRST],
         checked="single-step spikes at exactly 700 (4.188), 1500 (4.277), 2300 (4.313), above chance 3.30 and above any other "
                 "value of the run (max elsewhere 3.40 at the start); back to the neighbours' level at the next step. test as "
                 "healthy (2.585 ... 2.384)."),
]

CURVES += [
    dict(id="makemore-lr1000x", codebase="makemore", rec="mm-lr1000x", title="karpathy/makemore at -l 0.5 (1000x the default)",
         injected="LR x1000 from step 1 (script flag --learning-rate 0.5)",
         labels=[lab("divergence", 2, 52, note="3.39 -> 10.7 at step 2, up to 19.3 by step 10, back to ~3.1 by step 60"),
                 lab("divergence", 548, 598, note="3.1 -> 4.4 at 548, 10-step means 5.8, 22, 42 (max 68.7), back to 3.0 by 700"),
                 lab("divergence", 1508, 1558, note="3.0 -> 3.8 at 1508, 10-step means 10.8, 26.6, 44.8, back to 3.1 by 1640"),
                 lab("divergence", 2611, 2661, note="3.1 -> 4.3 at 2611, 10-step means 14, 29, 46, 48, back to 3.1 by 2780")],
         dont_care=[dc(0, 1, "first step"),
                    dc(53, 547, "between blow-ups: recovering, then stuck at 2.9-3.1 (healthy 2.6-2.8); ambiguous"),
                    dc(599, 1507, "between blow-ups: recovering, then stuck at 2.9-3.1 (healthy ~2.5)"),
                    dc(1559, 2610, "between blow-ups: recovering, then stuck at 2.9-3.1 (healthy ~2.45)"),
                    dc(2662, 3001, "after the last blow-up: recovering, then stuck at ~2.9")],
         checked="per-step values 3.39, 10.72, 12.96, 9.99, ... 19.33 at 10; then ~3.0 (10-step means) until three later "
                 "blow-ups that each last 100-150 steps: 548-684 (max 68.65), 1508-1632 (max 62.3), 2611-2765 (max 64.9); "
                 "between them 2.9-3.1. test 2.96, 2.93, 2.98, 2.91, 2.99, 2.91 (healthy 2.58 .. 2.38; chance 3.30)."),
]

CURVES += [
    dict(id="makemore-lrwindow", codebase="makemore", rec="mm-lrwindow", title="karpathy/makemore, LR x10 for steps 1200-1400, then back",
         injected="LR x10 (5e-4 -> 5e-3) for optimizer steps 1200..1400 (inject.py --lr-scale 1200:1400:10)",
         events=[{"event": "lr_change", "step": 1200, "applied": True, "scale": 10.0},
                 {"event": "lr_change", "step": 1401, "applied": True, "scale": 0.1}],
         dont_care=[FIRST, dc(1200, 1270, "a mild bump while LR x10: 10-step means 2.49 -> 2.56-2.59 for ~60 steps, inside "
                                          "the per-step noise (+-0.15)")],
         checked="no instability: 10-step means 2.49 (1190) -> 2.56, 2.58, 2.56, 2.59, 2.57 (1200-1249), then back down 2.50 ... "
                 "2.48 by 1400, 2.40 by 1490; the x10 window even helped: test 2.510 (1001), 2.423 (1501), 2.386, 2.362, 2.342 "
                 "vs healthy 2.510, 2.465, 2.431, 2.405, 2.384. Labelled healthy (the bump is within noise)."),
]

CURVES += [
    # ---------------- karpathy/nanoGPT char-level (4 layers x 128, AdamW 1e-3, warm-up 100, cosine to 1e-4 at 400, clip 1.0)
    dict(id="nanogpt-healthy", codebase="nanogpt", rec="ng-healthy", title="karpathy/nanoGPT char-level (train_shakespeare_char config, 4x128), 401 steps",
         injected="none", dont_care=[FIRST],
         checked="loss 4.28 (ln 96 = 4.56) -> 3.74 (bucket 11) -> 3.07 (41) -> 2.65 (81) -> 2.44 (121-200, a gentle "
                 "shoulder) -> 2.25 (241) -> 2.11-2.19 (321-401); val 4.31, 2.85, 2.61, 2.42, 2.36, 2.24, 2.24, 2.19, 2.24. "
                 "Warm-up to step 100 then cosine decay; nothing to warn about (the last val uptick 2.19 -> 2.24 is eval noise, "
                 "20 batches)."),
    dict(id="nanogpt-lr1000x", codebase="nanogpt", rec="ng-lr1000x", title="karpathy/nanoGPT char-level, LR x1000 (peak 1.0) through its warm-up",
         injected="every param group's LR x1000 at every step (inject.py --lr-scale 1:end:1000): warm-up 0.01 -> 1.0 at step 100, cosine to 0.1",
         labels=[lab("divergence", 4, 54, note="4.28, 3.71, 3.50, then 6.50 at step 4 and 11.07 at step 6 (lr 0.04-0.06)"),
                 lab("divergence", 55, 105, note="back at 3.0-3.5 by step 30, it climbs again from ~step 55 (lr 0.55): 4.0, "
                                                "6.1 at 62, bucket means 4.7, 8.5, 10.5, 11.9, 18.2 (101); val 20.26 at step 100")],
         dont_care=[dc(0, 3, "first steps"), dc(106, 401, "after the blow-up: 12-18 until ~180, then recovering to 3.1-3.3 as "
                                                       "the cosine brings lr down (healthy 2.1-2.2); the broken stretch")],
         checked="per-step 4.28, 3.71, 3.50, 6.50, 4.86, 11.07, 6.44, 5.74 ... 3.29 at step 30; bucket means 3.47 (41), 3.72 "
                 "(51), 4.65 (61), 8.49 (71), 10.5, 11.9, 18.2 (101), 11.9-16.0 to 171, 6.6 (181), then 5.5 -> 3.2 by 300; val "
                 "4.31, 3.56, 20.26, 7.77, 4.50, 3.27, 3.15, 3.07, 3.11."),
]

CURVES += [
    dict(id="nanogpt-noclip-lr10x", codebase="nanogpt", rec="ng-noclip", title="karpathy/nanoGPT char-level, no gradient clipping at 10x LR (1e-2)",
         injected="script flags --grad_clip=0.0 --learning_rate=1e-2 (10x the config's 1e-3; clipping off)",
         dont_care=[FIRST, dc(40, 200, "plateau at 2.55-2.8 while the LR is at its 1e-2 peak (val 2.62 -> 2.68 -> 2.55); "
                                       "the healthy run overtakes it at ~120; a mild stall at most, ambiguous")],
         checked="no blow-up and no spike: 4.28 -> 3.15 (bucket 11) -> 2.73 (31), faster than healthy at first, then a long "
                 "2.55-2.8 plateau to ~200, then down to 2.22-2.35 as the cosine lowers the LR; val 4.31, 2.62, 2.68, 2.55, 2.46, "
                 "2.35, 2.34, 2.29, 2.35 (healthy ends 2.24). Labelled healthy: clipping off at 10x LR did not break this run."),
]

CURVES += [
    dict(id="nanogpt-lrwindow", codebase="nanogpt", rec="ng-lrwindow", title="karpathy/nanoGPT char-level, LR x10 for steps 150-200, then back",
         injected="every param group's LR x10 for optimizer steps 150..200 (inject.py --lr-scale 150:200:10), the script's "
                  "cosine schedule otherwise untouched",
         events=[{"event": "lr_change", "step": 150, "applied": True, "scale": 10.0},
                 {"event": "lr_change", "step": 201, "applied": True, "scale": 0.1}],
         labels=[lab("divergence", 151, 201, note="2.28 at 150 -> 2.96, 3.22, 2.86, 2.83, 3.24, 3.58 (156); 10-step mean 2.45 -> "
                                                   "3.02 and 0.3-0.4 above healthy through the window")],
         dont_care=[FIRST, dc(202, 401, "after the window: recovers slowly but stays ~0.3 above healthy (2.5 vs 2.2) to the "
                                        "end; ambiguous")],
         checked="identical to nanogpt-healthy to step 150; per-step 2.96 / healthy 2.60 at 151, 3.22/2.56, 2.86/2.25, 3.58/2.63 "
                 "at 156; 10-step means 3.02, 2.90, 2.83, 2.83, 2.75 (150-199) vs healthy 2.45, 2.48, 2.43, 2.46, 2.40; after "
                 "the window 2.5-2.6 vs 2.2-2.3. val 2.61 (100), 2.79 (150, after one x10 step), 2.65, 2.47, 2.52, 2.47, 2.53 "
                 "(healthy 2.61, 2.42, 2.36, 2.24, 2.24, 2.19, 2.24)."),
]

CURVES += [
    dict(id="nanogpt-nan", codebase="nanogpt", rec="ng-nan", title="karpathy/nanoGPT char-level, NaN gradient at step 250",
         injected="backward at step 250 with a NaN gradient (inject.py --nan-grad 250); clip_grad_norm_ and AdamW pass the NaN "
                  "into the weights",
         labels=[lab("nonfinite", 251, 256, note="loss 2.28 at step 250, NaN from 251 to the end")],
         dont_care=[FIRST, dc(250, 250, "the val loss is already NaN at step 250 (evaluated after the poisoned update)"),
                    dc(257, 401, "after the NaN: every value NaN")],
         checked="identical to nanogpt-healthy up to 250 (2.18, 2.30, 2.20, 2.23, 2.28 at 246-250), NaN at 251 and every step "
                 "after; val 4.31 ... 2.36 (200), NaN at 250, 300, 350, 400."),
]

CURVES += [
    dict(id="nanogpt-badbatch", codebase="nanogpt", rec="ng-badbatch", title="karpathy/nanoGPT char-level, three garbage batches (random targets)",
         injected="random targets for the whole batch at steps 120, 240, 330 (inject.py --bad-labels 120,240,330)",
         labels=[lab("spike", 120, 125, note="2.64 -> 6.30 at 120, 2.35 at 121"),
                 lab("spike", 240, 245, note="2.13 -> 7.07 at 240, 2.11 at 241"),
                 lab("spike", 330, 335, note="2.24 -> 7.38 at 330, 2.08 at 331")],
         dont_care=[FIRST],
         checked="single-step spikes 6.30, 7.07, 7.38 (above chance 4.56; the largest other value after step 20 is 3.74); the "
                 "neighbours match nanogpt-healthy within 0.06 (Adam + clip 1.0 absorb the bad step); val as healthy."),
]
