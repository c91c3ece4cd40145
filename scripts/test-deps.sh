#!/bin/sh
# Install the system packages that some tests need, where apt and root are available.
# Tests that need a missing package fail with a message naming it.
set -u
want=""
command -v chromium >/dev/null 2>&1 || want="$want chromium"
command -v java >/dev/null 2>&1 || want="$want openjdk-17-jre-headless"
command -v curl >/dev/null 2>&1 || want="$want curl"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 ||
    want="$want postgresql"
if [ -n "$want" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq $want >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $want >/dev/null 2>&1
    } || echo "warning: could not install$want" >&2
fi
exit 0
