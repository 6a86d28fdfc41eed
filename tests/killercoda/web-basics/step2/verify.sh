#!/bin/bash
# The web Deployment runs nginx and is available
image=$(kubectl -n shop get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null)
if [[ "$image" != nginx* ]]; then
  echo "FAIL: there is no Deployment web running nginx in the namespace shop"
  exit 1
fi
if ! kubectl -n shop wait --for=condition=Available deployment/web --timeout=5s >/dev/null 2>&1; then
  echo "FAIL: the Deployment web is not available yet"
  exit 1
fi
