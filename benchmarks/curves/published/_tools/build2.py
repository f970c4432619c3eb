"""Second batch: YOLO results.csv, Keras CSVLogger, TensorBoard events (Lightning), more trainer_state.json, a README log."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mirror import src, hf
from csvs import csv_series
from make import make

def yolo(repo, commit, path, pick):
    """YOLO results.csv: every column as logged, plus `loss`/`val_loss` copies of the chosen component, `lr` = lr/pg0."""
    s = csv_series(src(repo, commit, path, "/tmp/_pub_src.csv"), "epoch",
                   ["train/box_loss", "train/cls_loss", "train/dfl_loss", "val/box_loss", "val/cls_loss", "val/dfl_loss", "lr/pg0"],
                   step_fn=lambda x: int(float(x)))
    out = {"loss": s[f"train/{pick}"], "val_loss": s[f"val/{pick}"], "lr": s["lr/pg0"]}
    out.update({k: v for k, v in s.items() if k != "lr/pg0"})
    return out

# 10. YOLOv8s fire/smoke, 25 epochs from scratch config (yolov8s.yaml), SGD lr0 0.01, close_mosaic 10
R, C = "Abonia1/YOLOv8-Fire-and-Smoke-Detection", "f2c67efae8ff249f2c3e1c34df0fd3a6351a1efb"
make("yolo-v8s-fire-smoke", "YOLOv8s trained on a fire/smoke set for 25 epochs (ultralytics results.csv)",
     dict(repo=R, commit=C, path="runs/detect/train/results.csv",
          transcribed="all 25 epochs; loss/val_loss are copies of train/box_loss and val/box_loss, lr is lr/pg0; the other loss columns kept under their logged names",
          run="ultralytics YOLOv8s (yolov8s.yaml), fire-8 dataset, 25 epochs, batch 16, SGD lr0 0.01, warmup 3 epochs, close_mosaic 10 (args.yaml)"),
     "detection", "per epoch", yolo(R, C, "runs/detect/train/results.csv", "box_loss"),
     dont_care=[dict(window=[15, 17], why="close_mosaic: mosaic augmentation is switched off for the last 10 epochs, train/box_loss steps up 0.958 -> 1.168 at epoch 15 and falls again (an expected step, not instability)")],
     checked="Printed all 25 rows: train/box_loss 1.69 -> 0.94 except the close_mosaic step at epoch 15; val/box_loss noisy 2.33 -> 1.49 (bumps at epochs 5 and 11-14 of +0.2-0.3 that fall back); "
             "mAP50-95 0.056 -> 0.46. Healthy, noisy validation; the close_mosaic step is covered by dont_care.")

# 11. YOLOv8m dental, 55 of 120 epochs (early stop, patience 20): val/cls_loss creeps up after epoch 34 while train/cls_loss keeps falling
R, C = "Abhinaya35/dental-tooth-detection-yolov8", "70fc92b872e07186f779eb223f80d123f1f4d322"
make("yolo-v8m-dental-cls-overfit", "YOLOv8m fine-tuned on dental X-ray tooth detection, stopped at epoch 55 by patience 20: val cls loss rises while train cls loss falls",
     dict(repo=R, commit=C, path="runs/detect/train/results.csv",
          transcribed="all 55 epochs; loss/val_loss are copies of train/cls_loss and val/cls_loss, lr is lr/pg0; box and dfl columns kept under their logged names",
          run="ultralytics YOLOv8m (yolov8m.pt), epochs 120, patience 20 (stopped at 55), batch 8, optimizer auto, lr0 0.001 (args.yaml)"),
     "detection", "per epoch", yolo(R, C, "runs/detect/train/results.csv", "cls_loss"),
     labels=[dict(kind="overfitting", metric="val_loss", onset=43, window=[43, 55],
                  note="val/cls_loss ~1.84-2.05 over epochs 34-42 (minimum 1.842 at 34), then 2.43, 2.07, 2.17, 2.20, 2.55, 2.17, 2.76, 2.40, 2.33, 2.26, 2.49, 2.15, 2.39 (epochs 43-55) while train/cls_loss falls 0.78 -> 0.60; mAP50-95 best 0.352 at epoch 35, then 0.20-0.32; training stopped by patience at 55")],
     dont_care=[dict(window=[0, 7], why="first epochs: val/cls_loss 9.4 -> 2.0"),
                dict(window=[34, 42], why="val/cls_loss at its minimum level but wobbling +-0.1; the upturn is not yet distinguishable from noise")],
     checked="Printed all 55 rows of every column. val/cls_loss is flat-noisy ~2.0-2.3 from epoch 8 to 33, lowest 1.84-1.95 at 34-40, and from epoch 43 its running mean is ~2.35 (+20% over 34-42) with single values to 2.76, "
             "while train cls/box losses keep falling; mAP stops improving after 35 and early stopping fires at 55. Borderline-but-real overfitting; onset at the first clearly higher value (43).")

# 12. Keras CNN, tomato leaf diseases (10 classes), 29 epochs: healthy with noisy validation
R, C = "Aitzaz-Saleem/Detection-of-Tomato-Leaf-Diseases-Using-CNN", "2e13bf6399f4a5d39b43853db0fe6640c86887bd"
make("keras-cnn-tomato-leaf", "Keras CNN on tomato leaf disease images (10 classes), 29 epochs, CSVLogger training_log.csv",
     dict(repo=R, commit=C, path="training_log.csv", transcribed="all 29 epochs (epoch 0..28): loss, val_loss",
          run="Keras CNN from the repo (PlantVillage tomato classes); val_accuracy 0.54 -> ~0.90"),
     "vision", "per epoch", csv_series(src(R, C, "training_log.csv", "/tmp/_pub_src.csv"), "epoch", ["loss", "val_loss"]),
     dont_care=[dict(window=[0, 1], why="first epochs"),
                dict(window=[24, 28], why="val_loss 0.33 -> 0.37, 0.46, 0.34, 0.43, 0.42 while loss falls to 0.05-0.09: may be the start of overfitting, but inside the +-0.06 noise the validation has had since epoch 15; honestly ambiguous")],
     chance=2.3026,
     checked="Printed all rows: loss 1.84 -> 0.05-0.09 monotone but for small wobbles; val_loss 1.33 -> 0.29 (epoch 18) with +-0.06 epoch-to-epoch noise (0.48 at 9, 0.40 at 19, 0.42 at 21), val_accuracy flat ~0.88-0.92 from 15. "
             "No instability; the last five epochs might be early overfitting, so dont_care rather than a label.")

# 13. TFT demand forecasting (pytorch-forecasting, Lightning TensorBoard events), optuna trial 0
R, C = "192cm/Retail-Store-Inventory-and-Demand-Forecasting-Using-TFT", "1242ab35bca6e41954aa6a22de38d3f80a6254bd"
P = "lightning_logs/optuna_tft/trial_0/events.out.tfevents.1770979601.Kunho_Desktop.20324.0"
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(src(R, C, P, "/tmp/_pub_src.tfevents"), size_guidance={"scalars": 0}); ea.Reload()
tb = {t: {"steps": [int(e.step) for e in ea.Scalars(t)], "values": [float(e.value) for e in ea.Scalars(t)]} for t in ("train_loss_step", "val_loss")}
make("tb-tft-retail-demand", "Temporal Fusion Transformer on retail store demand (tabular time series), optuna trial 0, 10 epochs",
     dict(repo=R, commit=C, path=P, transcribed="all scalar events of train_loss_step (every 50 steps, 29) and val_loss (per epoch, 10), read with tensorboard's EventAccumulator",
          run="pytorch-forecasting TFT, quantile loss, optuna hyper-parameter trial 0 of the repo; val_SMAPE 0.335 -> 0.205"),
     "tabular", "every 50 steps", tb,
     checked="Printed all points: train_loss_step 17.5 -> 8.9 with per-batch noise; val_loss 15.86, 12.19, 10.84, 10.80, 11.19, 10.89, 10.17, 9.31, 9.85, 8.94: falling with two one-epoch bumps (+0.4, +0.5) that fall back. Healthy.")

# 14. Small LM on WikiText-103, same code and hparams as lightning-slm-wikitext103, version_7: loss stuck at ~7.6 for 11k steps
R, C = "0Xero7/slm_training", "cb220b2f9bc7abbec75899387fb674ce8b015696"
make("lightning-slm-wikitext103-stuck", "Small transformer LM on WikiText-103, a 1-epoch run (version_7) whose loss stays at ~7.6 for 11k steps",
     dict(repo=R, commit=C, path="lightning_logs/version_7/metrics.csv", transcribed="all rows: train_loss_step every 50 steps (220); no val_loss in this version",
          run="train_lightning.py; hparams.yaml identical to version_0 (d_model 768, 12 layers, lr 2.36e-4, wd 9.3e-4, vocab 50258) except num_epochs 1"),
     "language", "every 50 steps", csv_series(src(R, C, "lightning_logs/version_7/metrics.csv", "/tmp/_pub_src.csv"), "step", ["train_loss_step"]),
     labels=[dict(kind="stall", metric="train_loss_step", onset=500, window=[500, 3000],
                  note="train_loss_step 7.49-7.81 (median ~7.61) from step 49 to 10999 with no trend; version_0 of the same code and hparams is at 7.07 by step 249, 6.48 at 499, 5.55 at 999 and 4.85 at 3649")],
     dont_care=[dict(window=[0, 499], why="the first few hundred steps, where the healthy version_0 is also still above 6.4")],
     checked="Chunked 22 x 500 steps: every chunk's median 7.58-7.69, min 7.49, max 7.81; no chunk lower than the first. Compared step by step with version_0 (lightning-slm-wikitext103): "
             "the healthy run leaves 7.6 within 250 steps. A stall far above the healthy run; visible by ~step 500.")

# 15. Drafter for speculative decoding (repo Star), 40k steps every 20: long healthy curve
R, C = "HangerYang/Star", "57f493e9bf4b61732c607bb21eea01660a87ac59"
make("hf-star-drafter-40k", "Drafter-model training for speculative decoding (repo Star), 40k steps, trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss every 20 steps (2000); no learning_rate, grad_norm or eval in this log",
          run="drafter training of the repo (speculative decoding: EAGLE/Medusa-style draft heads, per README); the summed draft loss starts at 24.8"),
     "language", "every 20 steps", hf(R, C, "trainer_state.json"),
     dont_care=[dict(window=[0, 200], why="first logged steps: 24.8 falling fast")],
     checked="Chunked 20 x 2000 steps: medians 11.7, 8.94, 7.51, 6.44, 5.77, 5.28, 4.98, 4.79, 4.62, 4.55, 4.51, 4.41, 4.33, 4.20, 4.16, 4.14, 4.13, 4.08, 4.05, 3.95: falling in every chunk; "
             "largest point 1.18x its trailing median (5.18 at step 23300, one point). Healthy long run with a slow tail.")

# 16. DNABERT-2 fine-tune on a DNA sequence classification task: eval loss creeps up while accuracy still improves
R, C = "ShashankBommana/DNABERT-2", "fb82c1f34060e7ea4ea17cff5122ae7a629451ef"
s = hf(R, C, "trainer_state.json", keys=("loss", "eval_loss"))
make("hf-dnabert2-eval-drift", "DNABERT-2 fine-tuned for DNA sequence classification, 2200 steps: eval_loss rises from ~step 1600 while train loss falls to 0.02",
     dict(repo=R, commit=C, path="trainer_state.json",
          transcribed="all log_history points: loss every 100 steps (22), eval_loss every 200 (11); the logged learning_rate is 0.0 at every point (rounded by the logger) and is left out",
          run="DNABERT-2 (genomics foundation model) sequence classification fine-tune; eval_accuracy 0.891 -> 0.943, MCC 0.78 -> 0.88"),
     "genomics", "every 100 steps", s,
     labels=[dict(kind="overfitting", metric="eval_loss", onset=1600, window=[1600, 2200],
                  note="eval_loss minimum 0.232 at step 800; 0.303, 0.272, 0.254 at 1000-1400 (back down), then 0.283, 0.294, 0.294, 0.288 at 1600-2200 while train loss falls 0.10 -> 0.02. Accuracy still improves (0.938 -> 0.943): overfitting in loss (over-confidence), mild")],
     dont_care=[dict(window=[801, 1599], why="eval_loss jumps to 0.303 at 1000 and then falls back to 0.254 by 1400: not yet a sustained rise")],
     checked="Printed all 33 points with accuracy/F1/MCC. Train loss 0.46 -> 0.019 falling; eval_loss has its minimum at the 4th eval and the last four evals all sit 22-27% above it. "
             "Labelled overfitting on eval_loss from 1600 (first of the sustained-high evals); the earlier bounce is dont_care; note accuracy still rises, so a monitor that stays quiet has a case.")

# 17. GeoLLM: ChatGLM-6B P-tuning on a small geology set, 131 epochs, loss -> 0.003
R, C = "AriesChen-UPC/GeoLLM", "a1c0e314b27ecdf1e418313603e65ec9a9700a17"
make("hf-chatglm6b-ptuning-geollm", "ChatGLM-6B P-tuning v2 on a geology Q&A set (GeoLLM), 3000 steps / 131 epochs, trainer_state.json",
     dict(repo=R, commit=C, path="trainer_state.json", transcribed="all log_history points: loss and learning_rate every 10 steps (300)",
          run="ChatGLM-6B P-tuning (README), linear LR from 0.02 to 0, 131 epochs over a small dataset (memorises it)"),
     "language", "every 10 steps", hf(R, C, "trainer_state.json"),
     dont_care=[dict(window=[1000, 1350], why="loss 0.009 -> 0.028 -> 0.008 (2.3x its trailing median but +0.02 in absolute terms) while memorising: noise of a near-zero loss, not a spike worth a warning")],
     checked="Printed the first 40 points and chunked the rest: 4.26 -> 0.022 by step 400 (steady), then 0.005-0.03 with a bump at 1040-1310, then 0.003 to the end as LR decays linearly to 0. "
             "No instability at the loss's scale; the relative bump is covered by dont_care. Healthy (no eval set logged, so overfitting cannot be judged).")

# 18. DDPM on LFW faces (README log, every 50 epochs)
R, C = "Qlher456/Diffusion", "c5f09549411534f59ca9effb6afe7f4a5bfa8b17"
txt = subprocess.check_output(["git", "-C", "/work/.mirror/Qlher456+Diffusion/repo", "show", f"{C}:README.md"]).decode()
pts = [(int(a), float(b)) for a, b in re.findall(r"Epoch (\d+), Step 0, Loss: ([0-9.eE-]+)", txt)]
make("readme-ddpm-lfw", "DDPM (U-Net, 400 timesteps) on LFW faces at 128 px, loss printed every 50 epochs in the README",
     dict(repo=R, commit=C, path="README.md", transcribed="all 11 printed lines (Epoch N, Step 0: the first batch's loss every 50 epochs); step = the printed epoch",
          run="Diffusion.py of the repo: DDPM noise-prediction MSE, LFWPeople, 128x128, batch 128, AdamW lr 1e-5, 500 epochs"),
     "generative", "every 50 epochs (one batch)", {"loss": {"steps": [p[0] for p in pts], "values": [p[1] for p in pts]}},
     dont_care=[dict(window=[1, 1], why="first print")],
     checked="All 11 values: 1.003, 0.0845, 0.0693, 0.0492, 0.0557, 0.0571, 0.0605, 0.0682, 0.0594, 0.0638, 0.0513. A fast drop then a flat noisy plateau (single-batch values, +-0.01), "
             "typical of diffusion MSE. Healthy.")
print("ok")
