#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: removes a directory the program made, without crossing into other file
# systems. Input: DIR.
rm -rf --one-file-system "$DIR"
