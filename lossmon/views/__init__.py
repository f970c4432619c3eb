"""The only place that prints status or imports textual/rich: the plain printer and the live TUI,
the one interface they show (protocol.py), the text they share (text.py) and the key table (keys.py)."""
