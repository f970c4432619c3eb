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
    dict(id="wlm-smalldata", codebase="wlm", rec="wlm-overfit", chance=round(math.log(1347), 6),
         data="data/small: the first 60,000 bytes (11.7k words) of the wikitext-2-like train.txt, the same valid/test "
              "(vocab 1347 over the three files)", title="pytorch/examples word_language_model, 11.7k-word train set, 15 epochs",
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
                 lab("divergence", 56, 106, note="back at 3.0-3.5 by step 30, it climbs again from step 56 (lr 0.56): 4.02, 3.96, 4.10, "
                                                "6.1 at 62, bucket means 4.7, 8.5, 10.5, 11.9, 18.2 (101); val 20.26 at step 100")],
         dont_care=[dc(0, 3, "first steps"), dc(107, 401, "after the blow-up: 12-18 until ~180, then recovering to 3.1-3.3 as "
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

CURVES += [
    dict(id="nanogpt-smalldata-overfit", codebase="nanogpt", rec="ng-overfit",
         data="data/pysrc_small: the first 20,000 tokens of the char-level train.bin (Python source, vocab 96), the same "
              "100k-token val.bin", title="karpathy/nanoGPT char-level on a 20k-token train set, 801 steps",
         injected="none; a small train set (data/pysrc_small: the first 20,000 tokens of train.bin, the same val.bin), 800 iters "
                  "(--dataset=pysrc_small --max_iters=800 --lr_decay_iters=800)",
         labels=[lab("overfitting", 550, 800, metric="val_loss",
                     note="val stops improving at ~2.33-2.48 from step 250 while train falls 2.1 -> 1.2; highest val after the "
                          "minimum at 550 (2.48 vs 2.33 at 500)")],
         dont_care=[FIRST, dc(250, 549, "val flat and noisy (2.37-2.47, 20 eval batches) while train falls: the start of "
                                         "memorisation, ambiguous")],
         checked="train bucket means 3.99, 2.75 (61), 2.50 (121), 2.26, 2.11 (241), 2.01, 1.83, 1.64, 1.54, 1.44 (541), 1.36, "
                 "1.32, 1.22, 1.28 (781); val 4.31, 2.88, 2.67, 2.52, 2.47, 2.40, 2.47, 2.37, 2.46, 2.37, 2.33 (500), 2.48, "
                 "2.47, 2.43, 2.43, 2.42, 2.39. No clean upturn (the eval is noisy), but a 1.1-nat train/val gap and val flat "
                 "for the last 550 steps while train keeps falling: overfitting, labelled from the first clear val rise (550)."),
    dict(id="lit-mlp-overfit-mild", codebase="lit", rec="lit-healthy", title="Lightning MLP classifier (784-128-128-10, SGD 0.1, batch 64), 20 epochs",
         injected="none (meant as the healthy control; it memorises the 3000 examples)",
         labels=[lab("overfitting", 611, 846, metric="val_loss",
                     note="train -> 0.004; val minimum 0.722 at 329, then rising steadily 0.747 (611) ... 0.778 (940)")],
         dont_care=[FIRST, dc(329, 610, "val wobbling near its minimum (0.72-0.77) while train falls below 0.03")],
         checked="train 2.30 -> 0.96 (bucket 139) -> 0.12 (323) -> 0.03 (415) -> 0.004 (940), smooth; val every epoch 1.99, "
                 "1.54, 1.33, 1.17, 0.89, 0.81, 0.722 (329), 0.730, 0.771, 0.731, 0.732, 0.731, 0.747 (611), 0.746, 0.752, "
                 "0.758, 0.763, 0.772, 0.773, 0.778. A mild but steady val upturn (+8% from the minimum): overfitting."),
]

CURVES += [
    dict(id="lit-logreg-lr10x-oscillation", codebase="lit", rec="lit-logreg-osc", title="Lightning logistic regression, full-batch GD at lr 0.5 (10x)",
         injected="none by the injector; a too-high constant LR by flag: --hidden 0 --lr 0.5 --full-batch-repeat 50 "
                  "(the healthy logistic-regression run uses 0.05)",
         labels=[lab("divergence", 2, 52, note="2.51 -> 4.40 at step 2, 12.4, 19.3 ... 29.9 at step 9"),
                 lab("oscillation", 101, 200, note="full-batch loss swinging 1.2-2.9 step to step (e.g. 2.64, 1.66, 1.82, 2.08, "
                                                   "2.47, 2.80, 2.10, 2.74, 1.48) for ~130 steps")],
         dont_care=[dc(0, 1, "first step"),
                    dc(53, 100, "chaotic recovery from the blow-up, swinging 3-14: divergence and oscillation both fair"),
                    dc(201, 400, "the swinging fades out by ~235 and the loss converges smoothly (0.12 -> 0.04); val 3.52 -> "
                                 "3.58 while train -> 0.04 (a separable problem memorised): ambiguous")],
         checked="per-step (every step is the whole train set, so no batch noise): 2.51, 4.40, 12.4, 19.3, 21.4, 23.7, 27.7, 29.4, "
                 "29.9, 28.0, 22.8 ... 13-14 at 20, 5-10 at 25-45, 3-6 at 50-100; from 101 to ~235 it swings 1.2-2.9 with a "
                 "period of 2-8 steps (101-110: 2.38, 2.23, 2.57, 2.67, 2.64, 1.66, 1.82, 2.08, 2.47, 2.80); then smooth "
                 "0.26 (241) -> 0.04 (400). val (every 50) 7.35, 5.09, 5.68, 3.72, 3.52, 3.53, 3.56, 3.58."),
]

CURVES += [
    dict(id="lit-mlp-subset-overfit", codebase="lit", rec="lit-overfit", title="Lightning MLP (784-256-256-10) on a 256-example subset, 60 epochs",
         injected="none; a small train subset (--subset 256 --batch-size 32 --hidden 256 --epochs 60), val on the 500 test examples every epoch",
         labels=[lab("overfitting", 72, 112, metric="val_loss",
                     note="val minimum 1.846 at step 64, then 1.943, 1.908, 1.966, 1.939, 1.958, 1.986 ... 2.321 at 480; train -> 0.002")],
         dont_care=[FIRST],
         checked="train 2.29 -> 1.57 (bucket 25) -> 0.15 (73) -> 0.02 (121) -> 0.002 (480), smooth; val 2.26, 2.19, 2.13, 2.03, "
                 "2.06, 1.878, 1.881, 1.846 (64), then 1.943 (72) and a steady climb to 2.321 (60 evaluations in all)."),
    dict(id="lit-logreg-healthy", codebase="lit", rec="lit-logreg-healthy", title="Lightning logistic regression, full-batch GD at lr 0.05, 400 steps",
         injected="none (--hidden 0 --lr 0.05 --full-batch-repeat 50 --epochs 8)",
         labels=[lab("overfitting", 300, 400, metric="val_loss",
                     note="mild: val minimum 1.410 at 200, then 1.413, 1.424, 1.438, 1.456 while train falls 0.80 -> 0.55")],
         dont_care=[FIRST, dc(201, 299, "val flat at its minimum (1.410 -> 1.413)")],
         checked="train smooth and monotone (full batch): 2.51, 2.32, 2.21 ... 1.19 (61), 0.89 (141), 0.73 (221), 0.63 (301), "
                 "0.55 (400); no oscillation at this LR. val every 50: 1.573, 1.460, 1.421, 1.410 (200), 1.413, 1.424, 1.438, "
                 "1.456: a slow upturn (+3% in 4 evaluations), labelled overfitting (mild)."),
]

CURVES += [
    dict(id="lit-mlp-lr20x-nan", codebase="lit", rec="lit-lr20x", title="Lightning MLP classifier at SGD lr 2.0 (20x): blow-up to overflow",
         injected="none by the injector; --lr 2.0 (20x the 0.1 used elsewhere)",
         labels=[lab("divergence", 3, 24, note="2.30, 2.44, 2.81, 2.39, 3.11, 3.25, 4.47, 2.71, 2.69, 21.7, 56, 255, 2555, 5.3e6 ... 4.3e33 at 24"),
                 lab("nonfinite", 25, 30, note="NaN from step 25 to the end")],
         dont_care=[dc(0, 2, "first steps"), dc(31, 470, "after the NaN: every value NaN")],
         checked="per-step 2.30, 2.44, 2.81, 2.39, 3.11, 3.25, 4.47, 2.71, 2.69, 21.68, 56.0, 254.5, 2555, 5.3e6, 1444, 5.2e7, "
                 "2.3e14, 2.8e17, 1.0e16, 2.4e19, 3.4e29, 7.6e27, 7.5e29, 4.3e33, then NaN at 25 and every step to 470; every "
                 "val NaN."),
    dict(id="lit-mlp-lrwindow", codebase="lit", rec="lit-lrwindow", title="Lightning MLP classifier, LR x10 for steps 400-500, then back",
         injected="LR x10 (0.1 -> 1.0) for optimizer steps 400..500 (inject.py --lr-scale 400:500:10)",
         labels=[lab("divergence", 401, 451, note="0.07 at 400 -> 3.38, 229, 539, 32.8, 3.96 (401-405), then stuck at chance 2.3")],
         dont_care=[FIRST, dc(452, 940, "after the blow-up: stuck at chance (2.3) then a very slow recovery to 2.06 by 940 "
                                        "(healthy 0.004); the broken stretch")],
         checked="identical to lit-mlp-overfit-mild up to 400 (0.07); 3.377, 229.3, 538.7, 32.8, 3.96, 2.36 at 401-406; epoch "
                 "means 18.2 (epoch 9), 2.33, 2.36, 2.29, 2.24, 2.20 ... 2.06 (epoch 20); val 0.73 (376) -> 2.32 (423), 2.32, "
                 "2.30 ... 2.17, 2.32."),
    dict(id="lit-mlp-gradscale", codebase="lit", rec="lit-gradscale", title="Lightning MLP classifier, two bad batches with gradients x100 (no clipping)",
         injected="gradients x100 at steps 300 and 600 (inject.py --grad-scale 300:100 --grad-scale 600:100; SGD, no clipping)",
         labels=[lab("spike", 301, 306, note="0.25 at 300 -> 361 at 301, 165, then 2.6 (near chance) and a slow recovery"),
                 lab("spike", 601, 606, note="0.19 at 600 -> 504 at 601, 69, 81, 9.6, 6.8, 4.4, then ~2.7 and recovery")],
         dont_care=[FIRST, dc(307, 600, "recovering from the reset: 2.6 -> 0.5 (epoch means 1.80, 1.34, 1.03, 0.77, 0.49)"),
                    dc(607, 940, "recovering again: 2.3 -> 0.6")],
         checked="identical to lit-mlp-overfit-mild up to 300; per-step 0.249, 361.3, 165.0, 2.63, 2.81, 2.46 (300-305) and "
                 "0.192, 504.0, 68.8, 80.8, 9.6, 6.8, 4.4, 4.5, 2.74 (600-608); epoch means 2.11 ... 0.40, 12.6, 1.80, 1.34, "
                 "1.03, 0.77, 0.49, 14.9, 2.29, 1.81 ... 0.61; val 0.81 (282) -> 2.14 (329) -> 0.94 (564) -> 2.35 (611) -> 1.21."),
]


# ---------------- sparse versions: the same runs as a tool logging the mean loss every N steps would record them
def sparse(base_id, every, labels, dont_care, checked):
    b = next(c for c in CURVES if c["id"] == base_id)
    return dict(id=f"{base_id}-every{every}", codebase=b["codebase"], rec=b["rec"], every=every,
                title=f"{b['title']} (logged every {every} steps: mean of the per-step losses)",
                injected=b["injected"], labels=labels, dont_care=dont_care, events=b.get("events"),
                checked=f"the every-{every} means of {base_id} (same run): " + checked)


CURVES += [
    sparse("mnist-lr50", 10, [lab("divergence", 10, 40, note="the first logged mean is 502 (4999 at step 2 inside it), then 2.32-2.34")],
           [dc(41, 376, "after the blow-up: flat at chance (ln 10)")],
           "502.1 (10), 2.319, 2.336, 2.335, 2.326, ... flat at 2.30-2.34 to 370."),
    sparse("wlm-nan", 10, [lab("nonfinite", 210, 230, note="the mean at 210 is NaN (NaN from step 201)")],
           [dc(0, 10, "first log"), dc(231, 450, "after the NaN: every value NaN")],
           "... 4.74 (180), 4.31 (190), 4.39 (200), NaN from 210 on."),
    sparse("wlm-lrwindow", 10, [lab("divergence", 210, 240, note="4.39 (200) -> 17.2 (210), 21.3, 23.0, 26.4")],
           [dc(0, 10, "first log"), dc(241, 450, "the rest of the x10 window (20-27) and the slow recovery after it (16 -> 5.6)")],
           "4.74 (180), 4.31 (190), 4.39 (200), 17.19, 21.26, 23.03, 26.43, 20.68, 23.80 (260), then 16.05, 10.12, 8.14, 7.96 ... 5.6."),
    sparse("makemore-healthy", 50, [], [dc(0, 50, "first log")],
           "3.153 (50), 2.890, 2.788, 2.734 ... 2.52 (1000), 2.48 (1500), 2.43 (2300), 2.38-2.41 at the end. Smooth; nothing to warn about."),
    sparse("makemore-badbatch", 50, [],
           [dc(0, 50, "first log"), dc(700, 700, "the garbage batch shows as +0.03 in this mean (2.587 vs 2.555 healthy)"),
            dc(1500, 1500, "+0.04 (2.517 vs 2.478)"), dc(2300, 2300, "+0.04 (2.468 vs 2.428)")],
           "the three one-step spikes are averaged away: 2.579 (650), 2.587 (700), 2.552 (750); 2.485, 2.517, 2.472 around 1500; "
           "2.416, 2.468, 2.418 around 2300 (healthy 2.555, 2.478, 2.428 at those points), within the run's own mean-to-mean "
           "wobble. Labelled healthy: at this logging rate there is nothing left to see."),
    sparse("makemore-lrdrop", 50, [lab("lr_drop", 1000, 2000, note="lr 5e-4 -> 5e-6 at the step-1000 log; the loss then stays at 2.51-2.54")],
           [dc(0, 50, "first log")],
           "lr 5e-4 to 950, 5e-6 from 1000; loss 2.535 (1000), 2.525, 2.523, 2.531, 2.523, 2.531, 2.538, 2.525, 2.523, 2.522, 2.517 "
           "(1500) ... 2.51-2.53 to 3000, while healthy goes 2.535 -> 2.478 (1500) -> 2.38 (3000)."),
    sparse("makemore-lr-low", 50, [lab("lr_too_low", 50, 3000, note="3.416 (50) -> 3.084 (3000), a straight slow line")],
           [dc(0, 49, "before the first log")],
           "3.416, 3.408, 3.398, 3.402 ... 3.09 at the end (healthy: 3.153 at the first log, 2.52 by 1000)."),
    sparse("makemore-lr1000x", 50,
           [lab("divergence", 50, 200, note="the first logged mean is 9.07 (chance 3.30)"),
            lab("divergence", 550, 700, note="2.97 (500) -> 3.13 (550) -> 29.5 (600), 23.0, 5.2"),
            lab("divergence", 1550, 1700, note="3.02 (1500) -> 25.9 (1550), 29.0, 5.3"),
            lab("divergence", 2650, 2800, note="3.04 (2600) -> 20.3 (2650), 27.8, 12.0, 3.6")],
           [dc(201, 549, "between blow-ups: 2.91-2.98, stuck above healthy (2.6)"), dc(701, 1549, "between blow-ups: ~3.0"),
            dc(1701, 2649, "between blow-ups: 2.9-3.2"), dc(2801, 3000, "after the last blow-up")],
           "9.07 (50), 3.08, 2.98, 2.93 ... 2.97 (500), 3.13 (550), 29.5 (600), 23.0, 5.19, 3.01 ...; 3.02 (1500), 25.9, 29.0, "
           "5.28, 3.02 ...; 3.04 (2600), 20.3, 27.8, 12.0, 3.57, 3.00, 2.93."),
    sparse("nanogpt-healthy", 10, [], [dc(0, 10, "first log")],
           "4.11 (10), 3.74, 3.50 ... 2.54 (110), 2.44-2.47 (130-200), 2.25-2.34 (210-300), 2.11-2.19 to 400. Warm-up then "
           "cosine; nothing to warn about."),
    sparse("nanogpt-nan", 10, [lab("nonfinite", 260, 280, note="the mean at 260 is NaN (NaN from step 251)")],
           [dc(0, 10, "first log"), dc(250, 259, "the val loss is already NaN at step 250"), dc(281, 400, "after the NaN: all NaN")],
           "2.37 (210), 2.32, 2.27, 2.21, 2.25 (250), NaN from 260 on; val NaN from 250."),
    sparse("lit-logreg-lr10x-oscillation", 10,
           [lab("divergence", 10, 40, note="the first logged mean is 19.9, 8.6x chance (ln 10)"),
            lab("oscillation", 150, 240, note="10-step means swing 1.62 -> 1.90 -> 1.24 -> 0.52 -> 1.76 -> 0.65 while they should fall")],
           [dc(41, 149, "the recovery from the blow-up: 16.8 -> 2.07, with bumps (3.42 -> 3.54)"),
            dc(241, 400, "converged smoothly (0.17 -> 0.04); val 3.52 -> 3.58, ambiguous")],
           "19.87 (10), 16.81, 9.74, 7.42, 5.91, 5.24, 4.18, 3.42, 3.54, 3.05, 2.33, 2.07, 1.92, 1.62 (140), 1.90, 1.81, 1.84, "
           "1.24, 0.68, 0.52 (200), 1.02, 1.76, 1.34, 0.65, 0.17 (250), then smooth to 0.040. The per-step period-2..8 swinging "
           "is averaged to a bumpy, non-monotone descent."),
]

COMMON["hfstep"] = dict(COMMON["hf"], kind="hfstep", logging="per-step (the injector's record of the HF run; eval_loss from trainer_state.json)")

CURVES += [
    # ---------------- HF Trainer, tiny GPT-2 (2 layers, n_embd 64, 2 heads), AdamW lr 1e-3 linear decay, batch 16, 500 steps
    dict(id="hf-tinygpt2-healthy", codebase="hf", rec="hf-healthy", title="HF Trainer, tiny GPT-2 (2x64) on Python-source characters, lr 1e-3, 500 steps",
         injected="none",
         dont_care=[dc(0, 10, "first log")],
         checked="log_history loss 3.96 (10), 3.45, 3.18, 2.97, 2.81 (50), 2.54 (100), 2.40-2.50 (140-190), 2.29-2.39 (200-300), "
                 "2.19-2.33 to 500; eval 2.601, 2.415, 2.311, 2.263, 2.223, 2.196, 2.193, 2.164, 2.154, 2.149; grad_norm 0.67-2.0; "
                 "linear LR decay to 0. Nothing to warn about."),
    dict(id="hf-tinygpt2-lr3", codebase="hf", rec="hf-lr3", title="HF Trainer, tiny GPT-2 at learning_rate 3.0",
         injected="none by the injector; --lr 3.0 (3000x the healthy run's 1e-3)",
         labels=[lab("divergence", 10, 40, note="the first logged loss is 924 (chance 4.56)"),
                 lab("nonfinite", 10, 40, metric="grad_norm", note="grad_norm NaN from the first log; the step loss is NaN from "
                                                                     "step 10 but HF's logging_nan_inf_filter logs 0.0 for it")],
         dont_care=[dc(41, 500, "broken: logged loss 0.0 (NaN steps filtered), grad_norm and eval_loss NaN")],
         checked="log_history: loss 924.2 at 10, then 0.0 at every log to 500 (HF's logging_nan_inf_filter drops the NaN step "
                 "losses); grad_norm NaN at every log; eval_loss NaN at every eval. The injector's per-step record: 4.40, 369, "
                 "740, 508, 836, 855, 1166, 1643, 2280, NaN from step 10 (see hf-tinygpt2-lr3-perstep)."),
    dict(id="hf-tinygpt2-lr3-perstep", codebase="hfstep", rec="hf-lr3", title="HF Trainer, tiny GPT-2 at learning_rate 3.0, per-step losses",
         injected="none by the injector; --lr 3.0",
         labels=[lab("divergence", 2, 9, note="4.40 -> 369 at step 2, 740, 508, 836, 855, 1166, 1643, 2280"),
                 lab("nonfinite", 10, 15, note="NaN from step 10 to the end")],
         dont_care=[dc(0, 1, "first step"), dc(16, 500, "after the NaN: every value NaN")],
         checked="per-step 4.40, 369.2, 740.2, 507.8, 836.3, 855.3, 1165.8, 1643.0, 2279.9, then NaN at 10 and all 491 later "
                 "steps; eval_loss NaN at every eval."),
    dict(id="hf-tinygpt2-lrdrop", codebase="hf", rec="hf-lrdrop", title="HF Trainer, tiny GPT-2, LR cut to 1% at step 200 (a bad schedule edit)",
         injected="every param group's LR x0.01 from optimizer step 200 to the end (inject.py --lr-scale 200:end:0.01); "
                  "learning_rate is the applied LR (HF's own log would show the unscaled schedule)",
         labels=[lab("lr_drop", 200, 350, note="learning_rate 6.0e-4 -> 6.0e-6 at the step-200 log; loss then flat at 2.30-2.46 "
                                                "and eval flat at 2.253-2.259 (healthy goes on to 2.26 / 2.149)")],
         dont_care=[dc(0, 10, "first log")],
         checked="identical to hf-tinygpt2-healthy to step 190; loss 2.354 (200), 2.42, 2.40, 2.35, 2.31, 2.41, 2.43, 2.36 ... "
                 "2.39 (500), flat, while healthy reaches 2.23-2.27; eval 2.2638 (200), 2.2587, 2.2561, 2.2545, 2.2537, 2.2533, "
                 "2.2532 vs healthy 2.263 -> 2.149; grad_norm stays 0.6-0.98."),
]

CURVES += [
    dict(id="hf-tinygpt2-smalldata-overfit", codebase="hf", rec="hf-overfit", title="HF Trainer, tiny GPT-2 (2x128) on 20k training characters, 500 steps",
         injected="none; a small train set (--train-chars 20000: 312 blocks, ~25 epochs in 500 steps), --n-embd 128, eval every 25",
         labels=[lab("overfitting", 325, 450, metric="eval_loss",
                     note="eval minimum 2.335 at 225-250, then 2.363, 2.356, 2.390 (325), 2.352, 2.368, 2.382, 2.393, 2.450 while "
                          "train falls 1.76 -> 1.27")],
         dont_care=[dc(0, 10, "first log"), dc(250, 324, "eval just past its minimum, within eval noise (2.335 -> 2.363 -> 2.356)")],
         checked="log_history loss 3.69 (10), 2.56 (50), 2.33 (100), 1.98 (200), 1.66 (300), 1.46 (400), 1.27 (500), steadily "
                 "down; eval 2.622, 2.525, 2.445, 2.365, 2.356, 2.358, 2.335, 2.341, 2.335, 2.335 (250), 2.363, 2.356, 2.390, "
                 "2.352, 2.368, 2.382, 2.393, 2.450, 2.431, 2.444. Upturn clear from 325."),
]

CURVES += [
    dict(id="hf-tinygpt2-lr-low", codebase="hf", rec="hf-lr-low", title="HF Trainer, tiny GPT-2 at a constant learning_rate 1e-5 (1/100)",
         injected="none by the injector; --lr 1e-5 --scheduler constant (the healthy run: 1e-3, linear decay)",
         labels=[lab("lr_too_low", 10, 500, note="4.35 -> 3.80 in 500 steps, slow and steady (healthy: 3.96 -> 2.26)")],
         dont_care=[dc(0, 9, "before the first log")],
         checked="log_history loss 4.35 (10), 4.31, 4.28, 4.27, 4.22 (50), 4.11 (100), 4.05 (150), 3.97 (200), 3.92 (300), "
                 "3.84 (400), 3.80 (500) vs healthy 3.96, 3.45, 3.18 ... 2.26; eval 4.161, 4.048, 3.977, 3.926, 3.884, 3.844, "
                 "3.805, 3.768, 3.732, 3.696 (healthy 2.601 -> 2.149), chance ln 96 = 4.56."),
]

CURVES += [
    dict(id="nanogpt-lrdrop", codebase="nanogpt", rec="ng-lrdrop", title="karpathy/nanoGPT char-level, LR cut to 1% from step 150 (a bad schedule edit)",
         injected="every param group's LR x0.01 from optimizer step 150 to the end (inject.py --lr-scale 150:end:0.01), on top "
                  "of the script's cosine schedule",
         labels=[lab("lr_drop", 150, 300, note="lr 9.4e-4 -> 9.4e-6 at step 150 (in the lr series); loss then stays ~2.35-2.45 "
                                                "while healthy goes on to 2.13-2.25")],
         dont_care=[FIRST],
         checked="identical to nanogpt-healthy to 149; lr 9.42e-6 at 150 falling to 1e-6; 10-step means 2.45 (150), 2.49, 2.45, "
                 "2.50, 2.43, 2.38 (200), 2.44, 2.34, 2.30, 2.35 ... 2.35-2.47 to 400 vs healthy 2.45, 2.48, 2.43, 2.46, 2.40, "
                 "2.34, 2.37, 2.26, 2.19 ... 2.13-2.25; the gap grows from +0.02 (160) to +0.2 (310-400). val 2.43, 2.39, 2.31, "
                 "2.37, 2.34, 2.40 vs healthy 2.42, 2.36, 2.24, 2.24, 2.19, 2.24."),
]

CURVES += [
    dict(id="nanogpt-lr-low", codebase="nanogpt", rec="ng-lr-low", title="karpathy/nanoGPT char-level at learning_rate 1e-5 (1/100), same schedule shape",
         injected="none by the injector; script flags --learning_rate=1e-5 --min_lr=1e-6 (1/100 of the config's 1e-3 / 1e-4)",
         labels=[lab("lr_too_low", 21, 401, note="4.32 -> 3.53 in 400 steps, slow and flattening as the cosine lowers the "
                                                  "already tiny LR (healthy: 2.1-2.2)")],
         dont_care=[FIRST],
         checked="20-step means 4.32, 4.22, 4.12, 3.99, 3.86, 3.80, 3.74, 3.71, 3.74, 3.66, 3.62, 3.56, 3.55, 3.56, 3.55, 3.59, "
                 "3.52, 3.50, 3.54, 3.53 (healthy: 4.11 and 3.74 in its first two 10-step buckets, 2.44 by 121); val 4.31, 4.06, "
                 "3.82, 3.66, 3.60, 3.50, 3.49, 3.45, 3.49 (healthy ends 2.24). Chance 4.56."),
]

CURVES += [
    dict(id="lit-mlp-healthy", codebase="lit", rec="lit-healthy6", title="Lightning MLP classifier (784-128-128-10, SGD 0.1, batch 64), 6 epochs",
         injected="none (the run of lit-mlp-overfit-mild, stopped after 6 epochs)",
         dont_care=[FIRST],
         checked="identical to the first 282 steps of lit-mlp-overfit-mild: train 2.30 -> 2.20 (bucket 15) -> 1.86 -> 1.67 -> "
                 "1.37 -> 1.24 -> 0.81 -> 0.94 -> 0.56 -> 0.47 -> 0.39, batch noise +-0.2; val every epoch 1.986, 1.543, 1.326, "
                 "1.174, 0.886, 0.810, still falling. Nothing to warn about."),
    sparse("lit-mlp-subset-overfit", 10, [lab("overfitting", 72, 112, metric="val_loss", note="as the per-step curve: val minimum 1.846 at 64, then up")],
           [dc(0, 10, "first log")],
           "the train means fall smoothly (1.57 ... 0.002); the val series is the same 60 evaluations."),
]

CURVES += [
    dict(id="lit-logreg-lr5x-oscillation", codebase="lit", rec="lit-logreg-osc025", title="Lightning logistic regression, full-batch GD at lr 0.25 (5x)",
         injected="none by the injector; --hidden 0 --lr 0.25 --full-batch-repeat 50 (the healthy logistic-regression run uses 0.05)",
         labels=[lab("divergence", 3, 37, note="2.51, 2.70, 5.15 at step 3, up to 10.3 at step 7, 3.3-8.5 to step 37"),
                 lab("oscillation", 38, 112, note="full-batch loss swinging 1.1-3.3 step to step (e.g. 3.18, 2.62, 2.49, 2.58, 2.78, "
                                                  "2.27, 2.52, 3.24, 1.33, 2.13) with a period of a few steps")],
         dont_care=[dc(0, 2, "first steps"),
                    dc(113, 400, "the swinging fades (1.3 -> 0.8 with small wiggles, a slow bump 0.49 -> 0.91 at 177-200), then "
                                 "smooth; val 2.10 (250) -> 2.24 (400) while train -> 0.14: ambiguous")],
         checked="per-step (whole train set each step, no batch noise): 2.51, 2.70, 5.15, 7.06, 8.47, 9.13, 10.32, 9.87 ... 3.79 "
                 "(36), 4.00, 2.16, 2.21, 1.51, 2.49, 1.89, 2.70, 2.76, 3.28, 2.29 ... swinging 1.07-3.24 to ~112; then 1.3 -> 0.76 "
                 "with +-0.15 wiggles, 0.49 -> 0.91 (177-200), smooth 0.79 -> 0.14 from 201. val 4.27, 3.01, 2.64, 2.71, 2.10, "
                 "2.15, 2.18, 2.24."),
]

CURVES += [
    dict(id="makemore-smalldata-overfit", codebase="makemore", rec="mm-overfit",
         data="ident_small.txt: the first 1,500 lines of identifiers.txt (identifier pieces starting with a or b; 1,350 "
              "train / 150 test, 26 letters)", title="karpathy/makemore transformer on 1,500 words (1,350 train / 150 test), 3001 steps",
         injected="none; a small input file (ident_small.txt: the first 1,500 lines of identifiers.txt, i.e. words starting "
                  "with a-b; -i ident_small.txt)",
         labels=[lab("overfitting", 2501, 3001, metric="val_loss",
                     note="test minimum 2.060 at 2001, then 2.098 (2501), 2.135 (3001) while train falls 1.76 -> 1.61")],
         dont_care=[FIRST],
         checked="train bucket means 2.91, 2.31 (226), 2.19, 2.10, 2.03 (901), 1.96, 1.92, 1.86, 1.80 (1801), 1.76, 1.71, 1.69, "
                 "1.65, 1.61 (2926), steadily down; test (every 500, hard-coded) 2.210, 2.142, 2.081, 2.060 (2001), 2.098, 2.135. "
                 "Only two evaluations after the turn: the window runs to the end."),
]

CURVES += [
    dict(id="mnist-healthy-6ep", codebase="mnist", rec="mnist-long", title="pytorch/examples mnist, defaults, 6 epochs (1128 steps)",
         injected="none (--epochs 6)", dont_care=[FIRST],
         checked="the first 376 steps are mnist-healthy's (4.10 at step 2 is the first-step transient); bucket means 2.31, 1.57, "
                 "1.12, 0.77, 0.56, 0.52, 0.36, 0.31, 0.27, 0.22, 0.20, 0.19, 0.19, 0.17, per-step noise 0.02-0.6; StepLR 0.7 per "
                 "epoch (1.0 -> 0.168); test 1.077, 0.379, 0.321, 0.215, 0.184, 0.183. A smooth plateau at the end; healthy."),
]
CURVES.append(sparse("mnist-healthy-6ep", 50, [], [dc(0, 50, "first log")],
                     "2.31 at the first logs, falling to ~0.17-0.2 by the end with mean-to-mean wobble +-0.05. Healthy."))

CURVES += [
    dict(id="mnist-lrdrop-6ep", codebase="mnist", rec="mnist-long-lrdrop", title="pytorch/examples mnist, 6 epochs, LR cut to 1% from step 400",
         injected="every param group's LR x0.01 from optimizer step 400 to the end (inject.py --lr-scale 400:end:0.01), on top of "
                  "the script's StepLR",
         labels=[lab("lr_drop", 400, 800, note="lr 0.49 -> 0.0049 at step 400 (in the lr series); train then flat at ~0.33-0.44 "
                                                "(47-step means) while healthy goes on to 0.17-0.24; test flat at 0.28-0.29")],
         dont_care=[FIRST],
         checked="identical to mnist-healthy-6ep up to 399; 47-step means 0.458 / healthy 0.455 (400), 0.444/0.411, 0.377/0.366, "
                 "0.425/0.420, 0.421/0.318 (588), 0.416/0.309, 0.333/0.218, 0.383/0.258 ... 0.343/0.167 (1058): the gap opens "
                 "from ~590. test 1.077, 0.379, 0.2905 (564; a bit better than healthy's 0.321 there), 0.2850, 0.2826, 0.2811 vs "
                 "healthy 0.215, 0.184, 0.183."),
]

CURVES += [
    dict(id="nanogpt-noclip-lr100x", codebase="nanogpt", rec="ng-noclip-lr100x", title="karpathy/nanoGPT char-level, no gradient clipping at 100x LR (1e-1)",
         injected="script flags --grad_clip=0.0 --learning_rate=1e-1 --min_lr=1e-2 (100x the config; clipping off)",
         labels=[lab("stall", 50, 300, note="stuck at 3.0-3.5 (10-step means; per-step 3.0-3.9) from step ~10 to the end, "
                                             "while healthy goes 3.07 (41) -> 2.65 (81) -> 2.2; val ~3.0-3.16 vs healthy 2.2-2.4")],
         dont_care=[FIRST, dc(4, 49, "fast early drop 4.28 -> 3.3 then flat: the same as healthy's level until ~40")],
         checked="no blow-up and no NaN: per-step 4.28, 3.92, 3.76, 3.68, 3.29, then 3.0-3.9; 10-step means 3.64, 3.36, 3.34, "
                 "3.25, 3.31, 3.51 (51), 3.50, 3.36, 3.34, 3.24, 3.23 (101), 3.2-3.39 to 200, 3.12-3.27 to 300, 3.03-3.15 to "
                 "400 (healthy 3.07 at 41, 2.44 at 121, 2.1-2.2 at the end); val 4.31, 3.14, 3.16, 3.09, 3.10, 3.03, 3.02, 2.95, "
                 "3.00 vs healthy 4.31, 2.85, 2.61, 2.42, 2.36, 2.24, 2.24, 2.19, 2.24. A stall at a too-high LR (Adam, no clip)."),
]

CURVES += [
    dict(id="wlm-lr60-stall", codebase="wlm", rec="wlm-lr60", title="pytorch/examples word_language_model at --lr 60 (3x)",
         injected="none by the injector; --lr 60 (3x the default 20)",
         labels=[lab("spike", 3, 14, note="7.49, 6.33, then 10.58 (3), 9.62, 7.23, 10.16, 7.41, 6.82, 12.25 (9), 8.38, ... 9.53 (14)"),
                 lab("stall", 60, 300, note="flat at 6.0-6.5 (10-step means) for 300 steps while healthy falls 5.4 -> 4.1")],
         dont_care=[dc(0, 2, "first steps"), dc(15, 59, "settling after the early spikes at ~6.3-6.8 (healthy 5.5-6.0)"),
                    dc(301, 450, "the script anneals lr 60 -> 15 after the valid loss got worse; loss drops to 5.3 and stays "
                                 "(healthy 3.3-3.5)")],
         checked="per-step 7.49, 6.33, 10.58, 9.62, 7.23, 10.16, 7.41, 6.82, 12.25, 8.38, 6.44 ... 9.53 at 14, then 5.4-7.2 "
                 "(10-step means 6.0-6.5) to step 300 with no trend, vs healthy 5.4 (60) -> 4.1 (300); 5.2-5.7 after the anneal "
                 "at 301. valid 5.69, 7.25, 5.08 (healthy 4.42, 3.27, 2.80). No periodic oscillation: noisy and flat."),
]

CURVES += [
    dict(id="mnist-lr8", codebase="mnist", rec="mnist-lr8", title="pytorch/examples mnist, Adadelta at --lr 8 (8x the default)",
         injected="LR x8 from step 1 (script flag --lr 8)",
         labels=[lab("divergence", 2, 52, note="2.29 -> 58.0 at step 2, then stuck at ln 10 (chance) to the end")],
         dont_care=[dc(0, 1, "first step"), dc(53, 376, "after the blow-up: flat at chance, the broken stretch")],
         checked="per-step 2.29, 58.03, 2.27, 2.29, 2.36, ... 2.85 at 10, then 2.21-2.41 (mean 2.30 = ln 10) for all 376 steps; "
                 "test 2.309, 2.307 (10% accuracy). Like --lr 50, a dead network rather than a NaN."),
]

CURVES += [
    sparse("nanogpt-badbatch", 10,
           [lab("spike", 120, 140, note="2.546 (110) -> 2.921 (120) -> 2.463 (130)"),
            lab("spike", 240, 260, note="2.271 (230) -> 2.682 (240) -> 2.245 (250)"),
            lab("spike", 330, 350, note="2.179 (320) -> 2.680 (330) -> 2.217 (340)")],
           [dc(0, 10, "first log")],
           "each one-step spike (6.3-7.4) lifts its 10-step mean by 0.4-0.5 (+15-26%): 2.921 vs healthy 2.543 at 120, 2.682 vs "
           "2.211 at 240, 2.680 vs 2.128 at 330; the neighbouring means match healthy within 0.02."),
    sparse("nanogpt-lrwindow", 10, [lab("divergence", 160, 190, note="2.443 (150) -> 3.081 (160), 2.904, 2.826, 2.807, 2.731 (200)")],
           [dc(0, 10, "first log"), dc(191, 401, "the rest of the window and the slow partial recovery after it (2.5-2.6 vs healthy 2.2-2.3)")],
           "2.546, 2.543, 2.439, 2.473, 2.443 (110-150, = healthy), 3.081 (160), 2.904, 2.826, 2.807, 2.731 (200), 2.668 (210), "
           "then 2.5-2.6 to the end vs healthy 2.2-2.3."),
    sparse("lit-logreg-lr5x-oscillation", 10, [lab("divergence", 10, 40, note="the first logged mean is 7.26, 3.2x chance (ln 10)")],
           [dc(41, 220, "a bumpy descent (1.70 -> 1.93 at 90, 0.85 -> 1.08 at 160, 0.54 -> 0.76 -> 0.84 at 180-200): the per-step "
                        "swinging averaged into bumps; ambiguous"),
            dc(221, 400, "converged smoothly (0.35 -> 0.14); val 2.10 -> 2.24, ambiguous")],
           "7.26 (10), 6.11, 4.63, 3.11, 2.54, 2.51, 1.95, 1.70, 1.93, 1.63, 1.47, 1.24, 1.17, 0.95, 0.85, 1.08, 0.81, 0.54, 0.76, "
           "0.84, 0.62, 0.35 (220), then smooth to 0.141. At 10-step means the oscillation is no longer clearly visible, so it "
           "is not labelled."),
]
