#!/usr/bin/env bash
# Runs `kubectl diff -f FOLDER` and keeps its exit code (0: the cluster matches the files, 1: it differs,
# more: kubectl failed), but prints the changed lines on one line, so a check's message shows them.
#
# Usage: bash checks/diff.sh FOLDER
set -u
folder=$1
out=$(kubectl diff -f "$folder" 2>&1)
code=$?
case $code in
  0) echo "the cluster matches $folder" ;;
  1) echo "the cluster differs from $folder (- cluster, + files):" \
       "$(grep -E '^[-+][^-+]' <<<"$out" | tr -s ' ' | paste -sd ' ' -)" ;;
  *) echo "FAIL: kubectl diff failed: $(tail -n 1 <<<"$out")" ;;
esac
exit "$code"
