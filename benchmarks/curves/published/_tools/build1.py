"""Build the published curves read from HF trainer_state.json files and Lightning CSVs in mirrored repos.
Each source file was taken with `git show <commit>:<path>` from the repo's snapshot; labels are hand-set below."""
import subprocess, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf import hf_series
from csvs import csv_series
from make import make

MIRROR = "/work/.mirror"

def src(repo, commit, path, tmp):
    d = f"{MIRROR}/{repo.replace('/', '+')}/repo"
    with open(tmp, "wb") as f:
        f.write(subprocess.check_output(["git", "-C", d, "show", f"{commit}:{path}"]))
    return tmp

def hf(repo, commit, path, keys=("loss", "eval_loss", "learning_rate", "grad_norm")):
    return hf_series(src(repo, commit, path, "/tmp/_pub_src.json"), keys)[1]

# 1. TinyLlama LoRA/SFT fine-tune, 2 epochs: healthy
R, C = "Dheena731/tinyLlama-finetune", "6c71f96fae31a3d33c6c37c05435b489c36c5131"
make("hf-tinyllama-sft", "TinyLlama supervised fine-tune (TRL SFT, 2 epochs, cosine LR 1e-5), trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss, learning_rate, grad_norm every 15 steps; eval_loss every 200 steps",
          run="TinyLlama fine-tune with adapters (README: 'likely based on TinyLlama'), per_device batch 2, 2800 steps"),
     "language", "every 15 steps", hf(R, C, "trainer_state.json"),
     checked="Chunked min/median/max and trailing-median jumps printed by hand: loss 2.08 -> ~1.02 falling smoothly, no jump above 1.4x the trailing median; "
             "grad_norm drifts 1.0 -> ~2 (normal in LoRA SFT) with no isolated spike; eval_loss 1.62 -> 1.122 monotone to the end. Healthy: nothing to report.")

# 2. Whisper large-v2 Japanese, 38 epochs on a small set: eval_loss rises from the 2nd eval while train loss -> 2e-4
R, C = "P4P4N1CK/whisper-large-v2-japanese-5k-steps", "484b1d2bbb58a6a2c8c4cf8ede4dc45f988bc79a"
make("hf-whisper-large-v2-ja-overfit", "Whisper large-v2 fine-tuned on Japanese Common Voice 11 for 5000 steps (38 epochs): eval_loss rises while train loss goes to ~0",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points (loss/learning_rate every 25 steps, eval_loss every 1000)",
          run="openai/whisper-large-v2, mozilla-foundation/common_voice_11_0 ja, 5000 steps, linear LR 1e-5 with 500 warm-up; eval_wer 0.789, 0.748, 0.743, 0.744, 0.745 at the five evals"),
     "speech", "every 25 steps", hf(R, C, "trainer_state.json"),
     labels=[dict(kind="overfitting", metric="eval_loss", onset=2000, window=[2000, 5000],
                  note="eval_loss 0.321 (step 1000, its minimum) -> 0.358 -> 0.394 -> 0.412 -> 0.420 while train loss falls 0.011 -> 0.0002 (38 epochs over a small set). WER flattens at ~0.744 from step 3000.")],
     checked="Printed all 5 evals and chunked train loss: eval_loss minimum at the first eval, every later eval higher (+12%, +23%, +28%, +31%); train loss monotone to 2e-4. "
             "Overfitting in loss terms from the 2nd eval (WER still improved slightly to step 3000, the usual Whisper pattern); the window runs to the last eval.")

# 3. QuALITY lrqa baseline stuck at chance: 4-way multiple choice, loss = ln 4 for 20 epochs
R, C = "yuanhuanghuang/quality", "140989710a259353e9b68dcfafc0d9d3f3d64faa"
make("hf-quality-lrqa-chance-stall", "QuALITY lrqa multiple-choice baseline (4 options) whose train and eval loss stay at ln 4 for 20 epochs",
     dict(repo=R, commit=C, path="baselines/lrqa/__init__.py",
          transcribed="all log_history points (loss and eval_loss every 50 steps); the file is a Trainer trainer_state.json committed under the name baselines/lrqa/__init__.py in this fork of nyu-mll/quality",
          run="lrqa baseline of the QuALITY repo (4-way multiple-choice reading comprehension), 3140 steps / 20 epochs, linear LR peak 4.9e-5 at ~step 400"),
     "language", "every 50 steps", hf(R, C, "baselines/lrqa/__init__.py"),
     labels=[dict(kind="stall", metric="loss", onset=400, window=[400, 1600],
                  note="train loss 1.383-1.417 (ln 4 = 1.3863) for the whole run, eval_loss 1.3863 at every eval (eval_accuracy ~0.25-0.30): the model never leaves chance; visible once warm-up ends (~step 400)")],
     dont_care=[dict(window=[0, 399], why="warm-up: a multiple-choice head sits at ln 4 for the first few hundred steps in healthy runs too")],
     chance=1.3863,
     checked="Printed loss/eval_loss/learning_rate: eval_loss is 1.3863 to 4 decimals at 61 of 62 evals, train loss wobbles 1.383-1.417 around ln 4 with no trend through 20 epochs and a normal warm-up/decay LR. A stall at chance.")

# 4. Whisper tiny Norwegian, 100k steps: long healthy speech curve
R, C = "CoralReefFish/whisper-tiny-nbaiLab", "975bb203671a1e0ba714a7489a9ab7a169c049b0"
make("hf-whisper-tiny-no-100k", "Whisper tiny fine-tuned on Norwegian (NbAiLab NCC_S) for 100k steps, trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss/learning_rate every 50 steps (2000), eval_loss every 1000 (100)",
          run="openai/whisper-tiny, NbAiLab/NCC_S (whisper-event model card), LR 3e-6 after 1000 warm-up steps; eval WER 62 -> 25.7"),
     "speech", "every 50 steps", hf(R, C, "trainer_state.json"),
     checked="Chunked (20 chunks) min/median/max: loss 2.94 -> 0.82, each chunk's median below the last, the largest point is 1.02x its trailing median; "
             "eval_loss 1.19 -> 0.510 falling at every chunk. Healthy long run; a slow tail under a small constant LR is the intended schedule, not lr_too_low (WER keeps improving).")

# 5. Whisper on Bashkir, 10k steps, noisy per-25-step loss
R, C = "akhmetvaleev-ruslan/bashkir-language-audio2text", "97cb6e8aab2de5667f901090c6f517835bbb8b2f"
make("hf-whisper-bashkir-10k", "Whisper fine-tuned on a Bashkir speech corpus for 10k steps (batch 4), trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss/learning_rate/grad_norm every 25 steps, eval_loss every 500",
          run="ASR fine-tune on the repo's Bashkir corpus (audiobooks, Common Voice, field recordings); 1 epoch, 10000 steps, LR 1e-5 linear after 500 warm-up"),
     "speech", "every 25 steps", hf(R, C, "trainer_state.json"),
     dont_care=[dict(window=[0, 100], why="first logged steps: loss 11.0 at step 25 falling to ~2 by step 100 (normal start)")],
     checked="Chunked min/median/max: loss medians 2.26 -> 0.68, noisy (batch 4, single-batch values 0.4-1.2 late on); the biggest jumps are 1.5x the trailing median (step 6350: 1.21 vs 0.79) "
             "and return at once: ordinary noise. grad_norm 285 at step 25 then 5-46, isolated 2.7x blips. eval_loss 0.504 -> 0.209 falling at all 20 evals. Healthy.")

# 6. t5-small summarization, 215k steps every 500: slow steady fine-tune, grad-norm blips
R, C = "10844110/t5-summarization-demo", "bf0ebb2464f6b3c2d6eec7df995767d2de010633"
make("hf-t5-small-summarization", "t5-small fine-tuned for summarization, 3 epochs / 215k steps, trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss, learning_rate, grad_norm every 500 steps (no eval in log_history)",
          run="t5-small summarization fine-tune (README: 3 epochs, train loss 1.80, eval loss 1.63, ROUGE-1 41.5), batch 4, linear LR from 5e-5"),
     "language", "every 500 steps", hf(R, C, "trainer_state.json"),
     dont_care=[dict(window=[163500, 165000], why="grad_norm 13.2 at step 164000 (5.8x its trailing median), one point, loss unaffected"),
                dict(window=[189500, 191000], why="grad_norm 35.6 at step 190000 (14x its trailing median), one point, loss unaffected")],
     checked="Chunked loss: 1.996 at step 500, medians 1.88 -> 1.77 falling to ~step 180k then flat to the end as the linear LR reaches 0; no loss point above 1.02x its trailing median. "
             "Two isolated grad_norm blips (steps 164000, 190000) with no loss reaction are covered by dont_care: neither credited nor a false alarm. Healthy.")

# 7. Small LM on WikiText-103 (Lightning), 140k steps, train_loss_step every 50 steps
R, C = "0Xero7/slm_training", "cb220b2f9bc7abbec75899387fb674ce8b015696"
s = csv_series(src(R, C, "lightning_logs/version_0/metrics.csv", "/tmp/_pub_src.csv"), "step", ["train_loss_step", "val_loss"])
make("lightning-slm-wikitext103", "Small transformer LM on WikiText-103 (custom attention variants), 10 epochs / 140k steps, Lightning metrics.csv",
     dict(repo=R, commit=C, path="lightning_logs/version_0/metrics.csv", transcribed="all rows: train_loss_step every 50 steps (2814 points), val_loss once per epoch (10)",
          run="train_lightning.py of the repo (WikiText103Loader, STP/Triplet attention blocks); LR not logged"),
     "language", "every 50 steps", s,
     dont_care=[dict(window=[0, 2000], why="first steps: loss 7.6 falling fast")],
     checked="Chunked 40-point view and trailing-median jumps: loss 7.63 -> ~3.6, per-batch noise +-0.3 around a falling median (largest single point 4.31 at step 25249 vs ~4.1 around it); "
             "val_loss 4.133 -> 3.570 falling at all 10 epochs. Healthy long run.")

# 8. ViT fine-tune on an image folder (irrigation systems), 3 epochs
R, C = "MaximilianoPona/image_classification_irrigation_systems", "70f5fc755866abad70ebb80d71a03195e60abd39"
make("hf-vit-irrigation", "ViT-base fine-tuned on an image folder of irrigation-system photos, 3 epochs, trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss/learning_rate every 10 steps (63), eval_loss every 100 (6)",
          run="vit-base-riego (google/vit-base fine-tune, imagefolder), 630 steps, linear LR 2e-4"),
     "vision", "every 10 steps", hf(R, C, "trainer_state.json"),
     dont_care=[dict(window=[590, 630], why="eval_loss 0.043 -> 0.054 at the last eval (one eval, +26% of a tiny number, with eval_loss 0.07-0.04 before): too small and too late to call overfitting")],
     checked="Printed every point: loss 0.26 -> ~0.001 by step 430 with single-batch blips up to 0.19 (step 260) in epoch 1-2, normal for a tiny batch; eval_loss 0.474, 0.077, 0.068, 0.067, 0.043, 0.054. "
             "The last eval's rise is one point after the minimum: ambiguous, covered by dont_care. Healthy otherwise.")

# 9. Multi-eval fine-tune from trainer_state_viz's sample: group-0 eval loss rises from epoch 2 while train loss falls
R, C = "aigoncharov/trainer_state_viz", "2e3c1d4f8b60000a1a52d5436c21b27c86e036ef"
full = hf(R, C, "trainer_state.json", keys=("loss", "eval_g0_loss", "learning_rate", "grad_norm"))
full["eval_loss"] = full.pop("eval_g0_loss")
make("hf-multieval-overfit", "A 30-epoch Trainer fine-tune with six eval sets (sample trainer_state.json of trainer_state_viz): eval loss rises from epoch 2 while train loss falls",
     dict(repo=R, commit=C, path="trainer_state.json",
          transcribed="all log_history points, per epoch (401 steps): loss, learning_rate, grad_norm, and eval_g0_loss (the first of six eval sets) stored as eval_loss; the step-0 eval kept",
          run="not described in the repo (a sample log for the visualizer); constant LR 1e-5, 30 epochs, 12030 steps; eval_g0_accuracy 0.708 at step 0, 0.678 at epoch 1, ~0.64 later"),
     "language", "per epoch", full,
     labels=[dict(kind="overfitting", metric="eval_loss", onset=802, window=[802, 2406],
                  note="eval loss 1.114 (epoch 1, its minimum) -> 1.132 -> 1.353 -> 1.555 -> 1.615 -> 1.854 while train loss falls 1.107 -> 0.597 -> 0.312 -> 0.205 -> 0.150 -> 0.116; later evals 2.2-2.9")],
     dont_care=[dict(window=[0, 401], why="the step-0 eval (5.74, before training) and the first epoch")],
     checked="Printed all 31 evals of all six groups: every group's eval loss has its minimum at epoch 1 and rises after it, group 0 by +1.7% at epoch 2 and +21% at epoch 3; train loss falls every epoch to 0.055. "
             "Onset at the first eval above the minimum (epoch 2), window 4 evals.")
print("ok")
