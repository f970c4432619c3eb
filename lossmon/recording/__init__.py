"""The single writer: the pump moves what training logged into the in-memory store (which the
views and detectors read) and the run directory's files."""
