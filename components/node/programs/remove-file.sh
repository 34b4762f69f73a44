#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: removes a file the program wrote. Input: DEST.
rm -f "$DEST"
