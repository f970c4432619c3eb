"""How a run is doing, by name: the state meta.json records, `lossmon ls` lists and the views show.

A run is RUNNING until its training function ends; then it is one of ENDED, and meta.json says
which with its exit status. A watcher adds the states it can only see from outside.
"""

from __future__ import annotations

RUNNING = "running"
FINISHED = "finished"  # the training function returned
STOPPED = "stopped"  # it returned after a stop was asked for (key, socket, diagnosis action)
FAILED = "failed"  # it raised, or called sys.exit with a non-zero status
INTERRUPTED = "interrupted"  # KeyboardInterrupt, a signal, or left behind by a forced quit

# seen from outside (lossmon watch, lossmon ls)
GONE = "gone"  # meta.json says running, but its process no longer exists (kill -9, OOM killer)
UNKNOWN = "unknown"  # no readable meta.json: nothing says whether it runs
READ_ONLY = "read-only"  # a log another tool writes: no job to ask

# seen only in a view
IDLE = "idle"  # a store shown as it is, with no training behind it
LOADING = "loading"  # a watcher still reading a long history
PAUSED = "paused"
PAUSING = "pausing"  # a pause asked for, not yet reached at a step boundary
STOPPING = "stopping"

ENDED = (FINISHED, STOPPED, FAILED, INTERRUPTED, GONE)
