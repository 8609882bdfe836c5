#!/bin/sh
# outpost: the Outpost device runtime as one file. A compressed payload follows this script: a jlink'ed JDK 25
# runtime, the application jar, two AOT caches (trained on real commands) and the SQLite and zstd native libraries. It
# is unpacked once per build into the user's cache; later starts go straight to the JVM.
set -e
build="@BUILD_ID@"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/outpost/$build"
if [ ! -f "$dir/.complete" ]; then
  self="$0"
  case "$self" in */*) ;; *) self=$(command -v -- "$self") ;; esac
  tmp="$dir.unpack.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  line=$(awk '/^__OUTPOST_PAYLOAD_BELOW__$/ { print NR + 1; exit }' "$self")
  tail -n +"$line" "$self" | tar -xzf - -C "$tmp"
  touch "$tmp/.complete"
  mkdir -p "$(dirname "$dir")"
  # Another process may have unpacked the same build meanwhile: keep whichever landed first.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
# Short commands run on C1 alone, compile only what runs thousands of times (a `list` of a big table still gets its
# loops compiled) and collect a 1 MB young generation: each compiled method and each fresh heap page is resident
# memory, and a `get` is over before either pays back. Long commands want C2 and the default heap: model installs hash
# and copy hundreds of MB (SHA-256 intrinsics), a sync may pull a whole district, the background worker runs for days.
# They also need the HTTP client, which is only in the "network" AOT cache (a cache loads all it holds at start).
# One-off commands (init, help) are in neither cache: their classes load from the jar when they run.
short="-XX:TieredStopAtLevel=1 -XX:CompileThresholdScaling=20 -Xms4m -Xmn1m"
aot=local
for arg in "$@"; do
  case "$arg" in model | run | sync) short="" aot=network ;; esac
done
# shellcheck disable=SC2086
exec "$dir/runtime/bin/java" -XX:AOTCache="$dir/$aot.aot" @JVM_OPTIONS@ $short \
  -Dorg.sqlite.lib.path="$dir/lib" -Dorg.sqlite.lib.name=libsqlitejdbc.so -DZstdNativePath="$dir/lib/libzstd-jni.so" \
  -cp "$dir/outpost.jar" dev.outpost.device.cli.OutpostCli "$@"
__OUTPOST_PAYLOAD_BELOW__
