"""Controllers of the embedded cluster: they react to changes through the watch hub, as the real ones do."""
