"""The run directory: the one owner of its format (layout.py names every file).

layout.py   file names, creating a run directory
meta.py     meta.json, and whether a run's process still lives
runlog.py   run.jsonl: encoding (the pump's writer) and decoding (readers), with its line contract
columns.py  the binary metric columns beside the run log
jobstate.py whether a run's job is running or how it ended
listing.py  the runs under a directory (`lossmon ls`, `lossmon watch` with no path)
"""
