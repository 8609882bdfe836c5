#!/bin/sh
# outpost: the Outpost device runtime as one file. The application jar follows this script; it is unpacked once per
# build into the user's cache and run on Java 25 ($OUTPOST_JAVA, else $JAVA_HOME, else java on the PATH).
set -e
self="$0"
case "$self" in */*) ;; *) self=$(command -v -- "$self") ;; esac
sum=$(cksum < "$self" | cut -d' ' -f1)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/outpost/$sum"
if [ ! -f "$cache/outpost.jar" ]; then
  mkdir -p "$cache"
  lines=$(awk '/^__OUTPOST_JAR_BELOW__$/ { print NR + 1; exit }' "$self")
  tail -n +"$lines" "$self" > "$cache/outpost.jar.tmp.$$"
  mv "$cache/outpost.jar.tmp.$$" "$cache/outpost.jar"
fi
java="${OUTPOST_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}"
[ -n "$java" ] || java=java
exec "$java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto --enable-native-access=ALL-UNNAMED -jar "$cache/outpost.jar" "$@"
__OUTPOST_JAR_BELOW__
