#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: removes a local image the program made (an image a pod still uses stays:
# buildah refuses). Input: IMAGE.
buildah rmi "$IMAGE" >/dev/null 2>&1 || true
