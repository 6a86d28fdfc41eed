#!/bin/bash
# The web server reads its greeting from this ConfigMap.
kubectl -n shop create configmap web-settings \
  --from-literal=GREETING="Hello from the shop" \
  --dry-run=client -o yaml | kubectl apply -f -
