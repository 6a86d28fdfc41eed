"""Checks: what a course step expects of the cluster (and Git and pipelines), and the one evaluator of them."""
