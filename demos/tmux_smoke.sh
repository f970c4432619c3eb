#!/usr/bin/env bash
# Smoke test of the live UI in a real terminal (tmux), outside CI: start the overfit demo at
# 160x48, press keys as a person would, check what the screen shows, shrink to 80x24, quit.
#   demos/tmux_smoke.sh        (needs tmux and the .venv from `make test`)
set -euo pipefail
cd "$(dirname "$0")/.."
S=lossmon-smoke-$$
RUN=$(mktemp -d)/run
fail() { echo "FAIL: $*"; tmux capture-pane -p -t "$S" || true; tmux kill-session -t "$S" 2>/dev/null || true; exit 1; }
screen_has() {  # wait up to 10 s for text on the screen
  for _ in $(seq 100); do tmux capture-pane -p -t "$S" | grep -qF -- "$1" && return 0; sleep 0.1; done
  return 1
}
tmux new-session -d -s "$S" -x 160 -y 48 ".venv/bin/lossmon demo overfit --steps 200000 --run-dir $RUN; echo EXIT=\$?; sleep 30"
screen_has " loss " || fail "no loss on screen"
tmux send-keys -t "$S" ']';   screen_has "x2 manual" || fail "] did not double the LR"
tmux send-keys -t "$S" 'p';   screen_has " paused " || fail "p did not pause"
tmux send-keys -t "$S" 'y';   screen_has "y: linear" || fail "y did not switch to a linear axis"
tmux send-keys -t "$S" '?';   screen_has "lossmon keys" || fail "? did not open the help"
tmux send-keys -t "$S" Escape
tmux resize-window -t "$S" -x 80 -y 24; sleep 1
screen_has "window: all" || fail "no plot legend at 80x24"
tmux send-keys -t "$S" 'q';   screen_has "Stop it at the next step and quit?" || fail "q did not ask"
tmux send-keys -t "$S" 'y';   screen_has "EXIT=0" || fail "did not exit 0"
screen_has "lossmon: stopped at step" || fail "no summary line"
tmux kill-session -t "$S"
grep -q '"lr_change"' "$RUN/run.jsonl" || fail "no lr_change in the run log"
echo "tmux smoke test passed"
