#!/bin/bash
# Three replicas of web are ready
ready=$(kubectl -n shop get deployment web -o jsonpath='{.status.readyReplicas}')
if [ "$ready" != "3" ]; then
  echo "FAIL: expected 3 ready replicas of web, found ${ready:-0}"
  exit 1
fi
