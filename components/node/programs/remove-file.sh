#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: removes a file the program wrote. Input: DEST. An archive split on arrival
# (migration/programs/archive-split.py) goes with its page images and index.
rm -f "$DEST" "$DEST.split"
if [ -f "$DEST.images/inventory.img" ]; then rm -rf "$DEST.images"; fi
