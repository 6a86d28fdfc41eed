#!/bin/bash
# The namespace shop exists
kubectl get namespace shop >/dev/null 2>&1 || { echo "FAIL: there is no namespace shop yet"; exit 1; }
