"""Clusters: one interface, three backends (embedded, kind, existing)."""
