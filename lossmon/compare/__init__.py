"""Comparing runs (`lossmon compare`, `lossmon watch A B`): which runs, their table, their wall clocks.

runs.py      the runs named on the command line (paths, or `lossmon ls` indices), opened as WatchedRuns
table.py     per run: best val and its step, last train loss, steps, state, the config values that differ
walltime.py  seconds since a run's start per step, from its run log (the wall-time x axis)
"""
