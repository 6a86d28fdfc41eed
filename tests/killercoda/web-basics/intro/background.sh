#!/bin/bash
# Wait until the node is ready before the learner starts.
kubectl wait --for=condition=Ready nodes --all --timeout=60s
