#!/bin/sh
# The Python interpreters this project supports that are on this machine: 3.10 to 3.13, as Airflow 3.3.
# Prints the first one found in the order 3.11, 3.12, 3.13, 3.10 (3.11 first: the Docker image's and
# the one of CI's whole suite), or every one with --all, one path a line in that order. Looks on PATH,
# then in pyenv's versions (whose shims only answer for the selected version). Exits 1 when there is none.
set -u
all=0
[ "${1:-}" = "--all" ] && all=1
found=1
for minor in 3.11 3.12 3.13 3.10; do
    path=""
    if command -v "python$minor" >/dev/null 2>&1 && "python$minor" -c "" >/dev/null 2>&1; then
        path="$(command -v "python$minor")"
        # A pyenv shim: the real interpreter behind it, so a later shell finds the same one.
        real="$(pyenv which "python$minor" 2>/dev/null)" && path="$real"
    elif command -v pyenv >/dev/null 2>&1; then
        version="$(pyenv versions --bare 2>/dev/null | grep -E "^$minor\.[0-9]+$" | sort -t. -k3 -n | tail -n 1)"
        [ -n "$version" ] && path="$(pyenv root)/versions/$version/bin/python$minor"
    fi
    [ -n "$path" ] && [ -x "$path" ] || continue
    echo "$path"
    found=0
    [ "$all" = 1 ] || exit 0
done
exit "$found"
