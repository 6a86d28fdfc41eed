"""One module per widget of the TUI; each draws what it is given and posts messages, nothing more."""
