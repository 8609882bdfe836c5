#!/bin/sh
# outpost: the Outpost device runtime as one file. A compressed payload follows this script: a jlink'ed JDK 25
# runtime, the application jar, three AOT caches (trained on real commands) and the SQLite and zstd native libraries. It
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
# memory, and a `get` is over before either pays back. Long commands want C2: model installs hash hundreds of MB
# (SHA-256 intrinsics), the background worker runs for days. `model` and `run` run C2 alone (no C1 tier: its profiled
# code, compiler thread and arenas cost an install 3 MB, and `run` 15 MB while it installs). `sync` is tuned as the
# short commands: its large pulls are a fresh device's (or one's past the compaction horizon), which install a
# snapshot (1M rows: 63 MB and 4.0-4.2 s so, 79-80 MB and 2.9-3.3 s with C2), and the pulls after are small; a
# long feed pull is slower than with C2 (docs/BENCHMARKS.md, "bootstrap-device"). `run`, which does a device's
# everyday syncs, keeps C2. Commands that download give the young generation survivor spaces
# large enough for the frames in flight: smaller ones promote them, and the old generation then grows with every chunk
# of a full install (Serial GC expands it rather than collect it). `model` holds no manifest on its heap (they are read
# from their files), so 3 MB of young generation (0.75 MB survivors) do: 1 MB less resident than 4 MB, and 2 MB
# promote frames again (75 MB at 4 GB).
# `model` also caps C2 at 2 MB of compiler memory for Outpost's own methods and the JDK's file and stream classes
# (model.compile-commands): those are I/O glue, and past the C2 threshold, which only a large model reaches, one
# compilation of them took a 5-7 MB arena that stayed resident; over the cap a method stays interpreted, at no
# measured cost. Freed C heap is returned every 100 ms for the same reason. The JDK's hashing is not capped. And
# SQLite's page cache is 256 KiB instead of 2 MB: an install touches a few small records. `run` installs the same
# way in the background, so it gets the same cap for the install's code only (run.compile-commands: sync's codec
# and merge keep full C2) and the same trimming: installing 2 GB in the background, 66.0-66.4 MB instead of 69.5.
# Each family starts with its own AOT cache (a cache loads all it holds at start): `local` for the offline commands,
# `model` for installs, `network` (both) for sync and run. One-off commands (init, help) are in none.
tuning="-XX:TieredStopAtLevel=1 -XX:CompileThresholdScaling=20 -Xms4m -Xmn1m"
aot=local
compile=
for arg in "$@"; do
  case "$arg" in
    model)
      tuning="-XX:-TieredCompilation -Xmn3m -XX:SurvivorRatio=2 -XX:TrimNativeHeapInterval=100 -Doutpost.sqlite.cache=-256"
      aot=model
      compile="-XX:CompileCommandFile=$dir/model.compile-commands"
      break ;;
    run)
      tuning="-XX:-TieredCompilation -Xmn4m -XX:SurvivorRatio=2 -XX:TrimNativeHeapInterval=100"
      aot=network
      compile="-XX:CompileCommandFile=$dir/run.compile-commands"
      break ;;
    sync) tuning="-XX:TieredStopAtLevel=1 -XX:CompileThresholdScaling=20 -Xmn4m -XX:SurvivorRatio=2" aot=network; break ;;
  esac
done
# shellcheck disable=SC2086
exec "$dir/runtime/bin/java" -XX:AOTCache="$dir/$aot.aot" @JVM_OPTIONS@ $tuning ${compile:+"$compile"} \
  -Dorg.sqlite.lib.path="$dir/lib" -Dorg.sqlite.lib.name=libsqlitejdbc.so -DZstdNativePath="$dir/lib/libzstd-jni.so" \
  -cp "$dir/outpost.jar" dev.outpost.device.cli.OutpostCli "$@"
__OUTPOST_PAYLOAD_BELOW__
