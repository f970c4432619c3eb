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
