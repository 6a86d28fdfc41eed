"""The embedded cluster: a Kubernetes API server and controllers in Python, for machines without Docker."""
