#!/usr/bin/env bash
# Builds device-runtime/target/outpost: launcher + tar.gz of {jlink'ed runtime, outpost.jar, three AOT caches, SQLite
# and zstd .so}.
# Usage: build-one-file.sh JDK_HOME TARGET_DIR SHARED_MODEL_TESTS_JAR   (called by the Maven build in the package phase;
# the test jar holds RetrainedModels, which makes the training server's retrained networks)
set -euo pipefail
jdk=$1
target=$2
retrained=$3
here=$(cd "$(dirname "$0")" && pwd)
image="$target/one-file"
# The JVM options the launcher uses; the AOT cache is trained with the same ones (module options must match).
# (The launcher adds per-family flags (outpost-launcher.sh); the caches work with all of them.)
jvm_options="-XX:+UseSerialGC -Xms8m -Xss512k -XX:ReservedCodeCacheSize=16m --enable-native-access=ALL-UNNAMED"

rm -rf "$image"
mkdir -p "$image/lib"
"$jdk/bin/jlink" --add-modules java.base,java.sql,jdk.httpserver \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output "$image/runtime"
case "$(uname -m)" in
  x86_64) zarch=amd64 ;;
  aarch64|arm64) zarch=aarch64 ;;
  armv7l) zarch=arm ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
# SQLite: the SQLite3 Multiple Ciphers build (src/main/native/build-sqlite3mc.sh), not the jar's, so that a device can
# encrypt its database.
cp "$target/native/libsqlitejdbc.so" "$image/lib/libsqlitejdbc.so"
# The JDK's jar tool, not unzip: nothing outside the JDK is needed to build this file.
extract=$(mktemp -d)
# zstd-jni likewise: loaded from ZstdNativePath instead of being copied to /tmp on every start.
zstd_so=$(cd "$extract" && "$jdk/bin/jar" tf "$target/outpost.jar" | grep "^linux/$zarch/libzstd-jni-.*\.so$" | head -1)
(cd "$extract" && "$jdk/bin/jar" xf "$target/outpost.jar" "$zstd_so")
mv "$extract/$zstd_so" "$image/lib/libzstd-jni.so"
rm -rf "$extract"
# The jar the one-file runs: picocli's Java 5 class files upgraded so the AOT cache can hold them, no native libraries.
"$jdk/bin/java" "$here/OneFileJar.java" "$target/outpost.jar" "$image/outpost.jar"

# Three AOT caches (see cli/Training): "local" for the commands that never touch the network, "model" for model
# installs, "network" for sync and run (both). A cache loads every class it holds at start, so one cache for all would
# make `get` load the HTTP client and `model update` the merge code. The model and network workloads install a model
# from TrainingServer (a stand-in for the service's model endpoints, run here with the build JDK). Their caches record
# no method profiles (-AOTRecordTraining): profiles recorded on C1 would keep the JIT from giving the hashing loops of
# an install to C2, and an install is then three times slower.
: > "$target/aot-training.log"
native_libs=(-Dorg.sqlite.lib.path="$image/lib" -Dorg.sqlite.lib.name=libsqlitejdbc.so
  -DZstdNativePath="$image/lib/libzstd-jni.so")
port_file=$(mktemp)
"$jdk/bin/java" -cp "$target/outpost.jar:$retrained" "$here/TrainingServer.java" "$port_file" \
  >> "$target/aot-training.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -f "$port_file"' EXIT
# It trains its retrained networks first (a few seconds).
for _ in $(seq 1 1200); do [ -s "$port_file" ] && break; sleep 0.1; done
[ -s "$port_file" ] || { echo "the training server did not start; see $target/aot-training.log" >&2; exit 1; }
# By name, as devices are configured: the name lookup is part of what a cache should hold.
server="http://localhost:$(cut -d' ' -f1 "$port_file")"
root_key=$(cut -d' ' -f2 "$port_file")
for workload in local model network; do
  training=$(mktemp -d)
  # The home is set up by a JVM of its own: init reads YAML, which the local cache should not hold.
  "$image/runtime/bin/java" "${native_libs[@]}" -cp "$image/outpost.jar" dev.outpost.device.cli.OutpostCli \
    --home "$training/home" init --server "$server" --device-id "trainer-$workload" --token "opd_training_$workload" \
    --scope nakuru --root-key "$root_key" \
    >> "$target/aot-training.log" 2>&1
  recording=(-XX:TieredStopAtLevel=1)
  [ "$workload" != local ] && recording=(-XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining)
  # shellcheck disable=SC2086
  "$image/runtime/bin/java" -XX:AOTCacheOutput="$image/$workload.aot" $jvm_options "${recording[@]}" \
    "${native_libs[@]}" -cp "$image/outpost.jar" dev.outpost.device.cli.Training "$training/home" "$workload" \
    >> "$target/aot-training.log" 2>&1
  rm -rf "$training"
done
kill "$server_pid" 2>/dev/null || true

payload="$target/outpost-payload.tar.gz"
cp "$here/model.compile-commands" "$here/run.compile-commands" "$image/"
tar -czf "$payload" -C "$image" runtime outpost.jar local.aot model.aot network.aot model.compile-commands \
  run.compile-commands lib
build_id=$(sha256sum "$payload" | cut -c1-16)
sed -e "s/@BUILD_ID@/$build_id/" -e "s|@JVM_OPTIONS@|$jvm_options|" "$here/outpost-launcher.sh" > "$target/outpost"
cat "$payload" >> "$target/outpost"
chmod 755 "$target/outpost"
rm -f "$payload"
echo "built $target/outpost ($(du -h "$target/outpost" | cut -f1), build $build_id)"
