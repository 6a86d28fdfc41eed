"""driftlab: a terminal training lab for Kubernetes delivery."""

__version__ = "0.1.0"
