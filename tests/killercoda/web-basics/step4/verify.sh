#!/bin/bash
kubectl -n shop get service web >/dev/null 2>&1 || { echo "FAIL: there is no Service web in the namespace shop"; exit 1; }
addresses=$(kubectl -n shop get endpoints web -o jsonpath='{.subsets[*].addresses[*].ip}' | wc -w)
if [ "$addresses" -ne 3 ]; then
  echo "FAIL: the Service web sends traffic to $addresses pods, expected 3"
  exit 1
fi
