#!/usr/bin/env bash
# apt-ensure.sh TARGET CHECK PACKAGE...: apt-install PACKAGEs unless the shell command CHECK succeeds.
# What `make latex-install` and `make browser-install` run, so that the README's `make test` is the whole set-up.
# Needs root and apt-get; without them it says why and exits 0 (the tests that need the packages then fail, saying so).
set -uo pipefail
target=$1 check=$2
shift 2
if bash -c "$check" >/dev/null 2>&1; then
    echo "$target: $* already installed"
elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$target: not installing $*: needs root and apt-get (or install them by hand); the tests that need them fail until then"
else
    echo "$target: installing $*"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "$@"; } >/dev/null \
        || { echo "$target: apt-get install $* failed" >&2; exit 1; }
fi
