#!/bin/bash
echo "Preparing your cluster, one moment..."
kubectl get nodes
