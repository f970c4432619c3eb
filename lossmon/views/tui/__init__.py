"""The live terminal UI (Textual): the app, its widgets, screens, plot and colours."""
