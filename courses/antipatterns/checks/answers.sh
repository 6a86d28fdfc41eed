#!/usr/bin/env bash
# Asks the shop in NAMESPACE several times, through its Service's NodePort on 127.0.0.1, and passes only if
# every answer shows FIELD with VALUE. The Service sends requests to its ready pods in turn, so a few
# requests reach each of them.
#
# Usage: bash checks/answers.sh NAMESPACE FIELD VALUE [REQUESTS]
set -u
namespace=$1 field=$2 value=$3 requests=${4:-6}

if ! port=$(kubectl get service shop -n "$namespace" -o jsonpath='{.spec.ports[0].nodePort}' 2>&1); then
  echo "FAIL: cannot read the Service shop in $namespace: $port"
  exit 1
fi
url="http://127.0.0.1:$port/"
expected="\"$field\": \"$value\""
pods=$(kubectl get pods -n "$namespace" -o name)
wrong=0
example=""
for _ in $(seq "$requests"); do
  if ! answer=$(curl -s --max-time 3 "$url"); then
    echo "FAIL: nothing answers on $url (no pod of the shop in $namespace is ready)"
    exit 1
  fi
  pod=$(grep -oE '"pod": "[^"]*"' <<<"$answer" | cut -d'"' -f4)
  if ! grep -qx "pod/$pod" <<<"$pods"; then
    pods=$(kubectl get pods -n "$namespace" -o name)  # a pod may have started since the list was read
    if ! grep -qx "pod/$pod" <<<"$pods"; then
      echo "FAIL: $url is answered by something other than the shop in $namespace; is another lab using port $port?"
      exit 1
    fi
  fi
  if ! grep -qF "$expected" <<<"$answer"; then
    wrong=$((wrong + 1))
    example=$(grep -oE "\"$field\": \"[^\"]*\"" <<<"$answer" || echo "no $field at all")
  fi
done
if [ "$wrong" -gt 0 ]; then
  echo "FAIL: $wrong of $requests answers from $url do not show $expected (one shows $example)"
  exit 1
fi
echo "all $requests answers from $url show $expected"
