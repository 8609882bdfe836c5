#!/usr/bin/env bash
# Builds device-runtime/target/outpost: launcher + tar.gz of {jlink'ed runtime, outpost.jar, AOT cache, SQLite .so}.
# Usage: build-one-file.sh JDK_HOME TARGET_DIR   (called by the Maven build in the package phase)
set -euo pipefail
jdk=$1
target=$2
here=$(cd "$(dirname "$0")" && pwd)
image="$target/one-file"
# The JVM options the launcher uses; the AOT cache is trained with the same ones (module options must match).
# (-XX:TieredStopAtLevel=1 is added by the launcher for short commands; the cache works with and without it.)
jvm_options="-XX:+UseSerialGC -Xms8m -Xss512k -XX:ReservedCodeCacheSize=16m --enable-native-access=ALL-UNNAMED"

rm -rf "$image"
mkdir -p "$image/lib"
"$jdk/bin/jlink" --add-modules java.base,java.net.http,java.sql,jdk.httpserver \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output "$image/runtime"
cp "$target/outpost.jar" "$image/outpost.jar"
case "$(uname -m)" in
  x86_64) arch=x86_64; zarch=amd64 ;;
  aarch64|arm64) arch=aarch64; zarch=aarch64 ;;
  armv7l) arch=armv7; zarch=arm ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
# The JDK's jar tool, not unzip: nothing outside the JDK is needed to build this file.
extract=$(mktemp -d)
(cd "$extract" && "$jdk/bin/jar" xf "$image/outpost.jar" "org/sqlite/native/Linux/$arch/libsqlitejdbc.so")
mv "$extract/org/sqlite/native/Linux/$arch/libsqlitejdbc.so" "$image/lib/libsqlitejdbc.so"
# zstd-jni likewise: loaded from ZstdNativePath instead of being copied to /tmp on every start.
zstd_so=$(cd "$extract" && "$jdk/bin/jar" tf "$image/outpost.jar" | grep "^linux/$zarch/libzstd-jni-.*\.so$" | head -1)
(cd "$extract" && "$jdk/bin/jar" xf "$image/outpost.jar" "$zstd_so")
mv "$extract/$zstd_so" "$image/lib/libzstd-jni.so"
rm -rf "$extract"

training=$(mktemp -d)
# shellcheck disable=SC2086
"$image/runtime/bin/java" -XX:AOTCacheOutput="$image/outpost.aot" $jvm_options -XX:TieredStopAtLevel=1 \
  -Dorg.sqlite.lib.path="$image/lib" -Dorg.sqlite.lib.name=libsqlitejdbc.so -DZstdNativePath="$image/lib/libzstd-jni.so" \
  -cp "$image/outpost.jar" dev.outpost.device.cli.Training "$training/home" > "$target/aot-training.log" 2>&1
rm -rf "$training"

payload="$target/outpost-payload.tar.gz"
tar -czf "$payload" -C "$image" runtime outpost.jar outpost.aot lib
build_id=$(sha256sum "$payload" | cut -c1-16)
sed -e "s/@BUILD_ID@/$build_id/" -e "s|@JVM_OPTIONS@|$jvm_options|" "$here/outpost-launcher.sh" > "$target/outpost"
cat "$payload" >> "$target/outpost"
chmod 755 "$target/outpost"
rm -f "$payload"
echo "built $target/outpost ($(du -h "$target/outpost" | cut -f1), build $build_id)"
