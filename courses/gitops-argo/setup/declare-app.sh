#!/usr/bin/env bash
# Declares the Application shop as MANIFEST describes it: the state the current step starts from. After the
# previous steps this changes nothing; after a lab reset (which deletes the namespace argocd, and the
# Application with it) it brings the Application back as the learner left it. The manifest names the fleet repo
# as ${DRIFTLAB_GIT_URL}/fleet.git; the address comes from the repository Secret Argo CD reads the repo with.
#
# Usage: bash setup/declare-app.sh MANIFEST
set -euo pipefail
manifest=$1

url=$(kubectl get secret fleet-repo -n argocd -o jsonpath='{.data.url}' | base64 -d)
if [ -z "$url" ]; then
  echo "the repository Secret argocd/fleet-repo has no url; run: driftlab lab up gitops-argo" >&2
  exit 1
fi
sed "s|\${DRIFTLAB_GIT_URL}/fleet.git|$url|" "$manifest" | kubectl apply -f -
