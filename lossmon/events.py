"""The events a run records, by name, with the fields each carries: the one place they are written down.

An event is one line of run.jsonl (and an item of the store's event list), a JSON object whose
first key is "event" (rundir/runlog.py states why the order matters), then "step" and "time":

    {"event": "pause", "step": 120, "time": 1764240000.1, "source": "key"}

`source` says who asked: "api" (the script), "key" (a view), "control" (the socket), a signal
name, "KeyboardInterrupt", "diagnosis:<kind>", "early_stopping", or "stop" (a resume that a stop
caused). How each reads in words is the views' business (views/text.py: describe).
"""

from __future__ import annotations

LR_CHANGE = "lr_change"
LR_COMMIT = "lr_commit"
PAUSE = "pause"
RESUME = "resume"
STOP = "stop"
CHECKPOINT = "checkpoint"
CONTROL = "control"
CONTROL_REFUSED = "control_refused"
ERROR = "error"
ALERT = "alert"
CAPTURE = "capture"
NOTIFY = "notify"
ROLLBACK = "rollback"

# kind -> its fields besides event, step and time (what writers put there and readers may rely on)
FIELDS: dict[str, dict[str, str]] = {
    LR_CHANGE: {
        "source": "who asked",
        "request": '"x2", "set 0.001", "reset", "probe x2 for 200 steps" or "probe end"',
        "applied": "false when refused (then `reason` says why)",
        "old": "effective LR per param group before (applied only)",
        "new": "effective LR per param group after (applied only)",
        "scale": "the LR multiplier after (applied only)",
        "clamped": 'the bound that limited it, "max_lr 0.01" (optional)',
        "reason": "why it was refused (refused only)",
        "probe": '"start", "end" or "cancelled" (a manual change ended it): the two changes of an LR probe'
                 ' (optional)',
        "probe_factor": "the probe's factor (probe only)",
        "probe_steps": "its length in optimizer steps; at the end, the steps it ran (probe only)",
    },
    LR_COMMIT: {
        "source": "who asked",
        "applied": "false when there was nothing to bake (then `reason`)",
        "baked": "the multiplier baked into optimizers and schedulers",
        "notes": "list of what could not be baked exactly",
        "reason": "why nothing was done",
    },
    PAUSE: {"source": "who asked"},
    RESUME: {"source": 'who asked ("stop" when a stop released the pause)'},
    STOP: {"source": "who asked"},
    CHECKPOINT: {
        "source": "who asked (the first of them, when requests > 1)",
        "requests": "how many requests this one checkpoint served (those pending at one step)",
        "ok": "whether the checkpoint function returned",
        "result": "what it returned, as text (optional)",
        "error": "what went wrong (ok false)",
    },
    CONTROL: {
        "cmd": "the control socket command accepted",
        "source": '"control"',
        "peer_pid": "the client's process id (where the OS tells)",
        "factor": "scale_lr's factor (optional)",
        "value": "set_lr's value (optional)",
    },
    CONTROL_REFUSED: {
        "uid": "the refused peer's user id",
        "pid": "its process id",
        "unlogged": "refusals since the last one recorded, not counting this one (optional)",
        "total": "refusals so far in this run, this one included",
    },
    ROLLBACK: {
        "source": 'who asked ("api", "key", "control", "diagnosis:spike", ...)',
        "applied": "false when refused (then `reason` says why)",
        "from": "the step the run was at",
        "to": "the snapshot's step: the event's own step, where the run continues from (refused: the"
              " step asked for, when one was)",
        "skipped": "batches actually skipped from the snapshot's data position (0 without run.batches)",
        "batch": "the data position after (batches consumed through run.batches; null without it)",
        "scale": "the lr_scale applied (optional)",
        "reason": "why it was refused (refused only)",
    },
    ERROR: {
        "message": '"ValueError: ..." (the exception, one line)',
        "traceback": "the formatted traceback (or the text given to sys.exit)",
    },
    CAPTURE: {
        "what": '"optimizer", "train_loss", "val_loss", "printed_val", "stand_down" or "signal" (lossmon run);'
                ' "update_ratio" when measuring it raised and was turned off; "snapshot" when snapshots could not be taken and were turned off',
        "message": "what was captured, or why capture stopped, in words",
    },
    NOTIFY: {
        "ok": "false: the notify command did not do its job (lossmon/notify.py)",
        "reason": '"failed" (non-zero exit, or not found), "timeout", "dropped" or "error"',
        "alert": "the kind of the alert it was run for",
        "message": "what went wrong, in words",
    },
    ALERT: {
        "kind": "the detector: " + ", ".join((
            "nonfinite", "spike", "divergence", "oscillation", "plateau", "lr_too_low", "stall", "lr_drop",
            "overfitting", "early_stopping", "lr_probe", "gpu_memory", "gpu_idle")),
        "severity": "info | warning | critical",
        "state": "open | update | resolved (diagnosis/alerts.py: one episode each)",
        "metric": "the series it concerns",
        "message": "plain words with the numbers",
        "advice": "what to do, in words with no keys in them",
        "action": "the key-table action that does it (views/keys.py), or absent",
    },
}
