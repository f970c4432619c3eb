"""Third batch: logs pasted into issue threads, transcribed by hand from the thread text (numbers copied as printed)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make import make

# 19. nanoGPT GPT-2 (124M) on OpenWebText in float16 on a V100: finite to iter 3000, NaN from iter 3010
it = list(range(2920, 3080, 10))
vals = [3.9883, 3.9408, 3.9994, 4.0977, 4.1535, 3.9453, 3.8993, 3.8853, 4.2490] + ["NaN"] * 7
make("issue-nanogpt-gpt2-fp16-nan", "nanoGPT GPT-2 124M (config/train_gpt2.py) in float16 on one V100: loss turns NaN at iter 3010",
     dict(url="https://github.com/karpathy/nanoGPT/issues/215", repo="karpathy/nanoGPT",
          transcribed="every line pasted in the issue description: 'iter N: loss X' for iters 2920-3070 (every 10; 'loss nan' from 3010) and the eval line 'step 3000: train loss 4.0390, val loss 4.0427'",
          run="torchrun --standalone --nproc_per_node=1 train.py config/train_gpt2.py --dtype=float16 (V100 32G), per the issue"),
     "language", "every 10 iters (excerpt of a longer run)",
     {"loss": {"steps": it, "values": vals}, "val_loss": {"steps": [3000], "values": [4.0427]}},
     labels=[dict(kind="nonfinite", metric="loss", onset=3010, window=[3010, 3030],
                  note="loss 3.89-4.25 for iters 2920-3000, then nan at every logged iter from 3010 (float16 on V100)")],
     dont_care=[dict(window=[2920, 2940], why="the pasted excerpt starts mid-run: no history before iter 2920")],
     checked="Read the thread's log line by line: nine finite values 3.885-4.249 (4.249 at iter 3000, the checkpoint step, is the highest), then 'loss nan' at 3010, 3020, ..., 3070. "
             "One nonfinite event at 3010; the window allows two more logged iters.")

# 20. WaveGlow (NVIDIA/waveglow) training, one logged point of 4191 among values near -4
make("issue-waveglow-loss-spike", "WaveGlow training at step ~78.6k: one logged loss of +4191.7 among values of -2.4 to -4.5 (NLL of a flow, negative when healthy)",
     dict(url="https://github.com/NVIDIA/waveglow/issues/32", repo="NVIDIA/waveglow",
          transcribed="all 7 lines pasted in the issue description (step_78540 .. step_78660, every 20 steps)",
          run="NVIDIA/waveglow train.py, lr 1e-4, batch_size 1, 24 kHz Mandarin TTS data (config pasted in the thread); a maintainer-side comment calls it 'the loss explode'"),
     "speech", "every 20 steps (excerpt of a longer run)",
     {"loss": {"steps": list(range(78540, 78680, 20)), "values": [-4.065555573, -4.490265846, -4.454271317, -4.322495461, 4191.683593750, -2.408614397, -2.908127546]}},
     labels=[dict(kind="spike", metric="loss", onset=78620, window=[78620, 78660],
                  note="-4.32 -> +4191.68 at step 78620, then -2.41 and -2.91: back to finite negative values but ~1.5 above the pre-spike level")],
     dont_care=[dict(window=[78540, 78580], why="the pasted excerpt starts mid-run: three points of history")],
     checked="Read the 7 pasted values: four at -4.07..-4.49, one at +4191.68, two at -2.41/-2.91. A single-point spike of ~4000 nats with incomplete recovery in the two points after it. "
             "Short (7 points): it tests whether a detector can call a spike with little history.")
print("ok")
