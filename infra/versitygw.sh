#!/usr/bin/env bash
# versitygw: an Apache-2.0 S3-compatible gateway (POSIX backend) that the blob-store tests run on loopback.
# Served by the Go module proxy without replace directives; built once into ~/.cache/fairscribe (~3 min).
# Prints the binary's path as the last line of stdout.
exec bash "$(dirname "$0")/go-tool.sh" versitygw 1.8.0 github.com/versity/versitygw/cmd/versitygw
