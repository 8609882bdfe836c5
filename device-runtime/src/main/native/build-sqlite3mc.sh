#!/usr/bin/env bash
# Builds the SQLite library the device runs: sqlite-jdbc's JNI glue (NativeDB.c, from the sources jar of the version
# the build uses) linked with SQLite3 Multiple Ciphers (SQLite with page encryption, from the amalgamation that the npm
# package better-sqlite3-multiple-ciphers carries). Without a key it is plain SQLite; with `PRAGMA key` the database
# file is encrypted (ChaCha20-Poly1305 by default). See docs/SECURITY.md, "Data at rest".
#
# Usage: build-sqlite3mc.sh OUT_DIR SQLITE_JDBC_JAR JDK_HOME
# Also compiled in: outpost_rows.c, the table-valued function a device saves batches of rows through (one bound
# value a batch instead of a JNI call a value), registered on every connection by SQLITE_EXTRA_INIT.
# Writes OUT_DIR/libsqlitejdbc.so. Sources are fetched once, checked against pinned SHA-256 sums, and the built library
# is cached under ${OUTPOST_BUILD_CACHE:-~/.cache/outpost-build}: a second build costs a copy, the first about a minute.
set -euo pipefail
out=$1
jdbc_jar=$2
jdk=$3

jdbc_version=3.51.1.0
jdbc_sources_sha256=b1124d9a0d6170ac800b845126002880b99979baede673594d33bb8a8cdef593
mc_package=better-sqlite3-multiple-ciphers
mc_version=13.0.3 # SQLite3MC 2.x on SQLite 3.53.4
mc_sha256=24a11e221247fc003f755ad0f82126bc6b0295d0be1c06f3cb3e48d9db8eb898
# The compile options of sqlite-jdbc's own build that its Java side relies on (column metadata for ResultSetMetaData,
# load_extension), with what the device needs: threads (the local API serves while sync runs), no memory statistics
# (a mutex per allocation otherwise).
defines=(-DSQLITE_THREADSAFE=1 -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_ENABLE_COLUMN_METADATA
  -DSQLITE_ENABLE_LOAD_EXTENSION=1 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_MATH_FUNCTIONS
  -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_MAX_VARIABLE_NUMBER=250000 -DHAVE_USLEEP=1 -DSQLITE_CORE
  -DSQLITE_EXTRA_INIT=outpost_sqlite_init)
rows_c="$(cd "$(dirname "$0")" && pwd)/outpost_rows.c"

[ "$(basename "$jdbc_jar")" = "sqlite-jdbc-$jdbc_version.jar" ] || {
  echo "build-sqlite3mc: built for sqlite-jdbc $jdbc_version, given $jdbc_jar: pin the new version's sources here" >&2
  exit 1
}
case "$(uname -m)" in
  x86_64 | aarch64 | arm64 | armv7l) ;;
  *) echo "build-sqlite3mc: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
command -v gcc > /dev/null || { echo "build-sqlite3mc: gcc is needed to build the SQLite library" >&2; exit 1; }

key=$( (cat "$0" "$rows_c"; uname -m; gcc -dumpfullversion) | sha256sum | cut -c1-16)
cache="${OUTPOST_BUILD_CACHE:-$HOME/.cache/outpost-build}/sqlite3mc-$key"
mkdir -p "$out"
if [ -s "$cache/libsqlitejdbc.so" ]; then
  cp "$cache/libsqlitejdbc.so" "$out/libsqlitejdbc.so"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { # URL FILE SHA256
  curl -sSfL --retry 3 -o "$2" "$1"
  echo "$3  $2" | sha256sum -c --quiet - || { echo "build-sqlite3mc: $1 does not match its pinned sum" >&2; exit 1; }
}
fetch "https://registry.npmjs.org/$mc_package/-/$mc_package-$mc_version.tgz" "$work/mc.tgz" "$mc_sha256"
fetch "https://repo1.maven.org/maven2/org/xerial/sqlite-jdbc/$jdbc_version/sqlite-jdbc-$jdbc_version-sources.jar" \
  "$work/jdbc-sources.jar" "$jdbc_sources_sha256"
tar -xzf "$work/mc.tgz" -C "$work" package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h \
  package/deps/sqlite3/sqlite3ext.h
(cd "$work" && "$jdk/bin/jar" xf jdbc-sources.jar org/sqlite/core/NativeDB.c org/sqlite/core/NativeDB.java)
# NativeDB.h: the JNI header of the very class the jar loads, made by javac from its source.
"$jdk/bin/javac" -h "$work/hdr" -d "$work/classes" -cp "$jdbc_jar" -implicit:none -nowarn \
  "$work/org/sqlite/core/NativeDB.java" 2> "$work/javac.log" || { cat "$work/javac.log" >&2; exit 1; }
cp "$work/hdr/org_sqlite_core_NativeDB.h" "$work/org/sqlite/core/NativeDB.h"

src="$work/package/deps/sqlite3"
gcc -O2 -fPIC -w "${defines[@]}" -c "$src/sqlite3.c" -o "$work/sqlite3mc.o"
gcc -O2 -fPIC "${defines[@]}" -I "$work/org/sqlite/core" -I "$src" -I "$jdk/include" -I "$jdk/include/linux" \
  -c "$work/org/sqlite/core/NativeDB.c" -o "$work/NativeDB.o"
gcc -O2 -fPIC -Wall -Werror "${defines[@]}" -I "$src" -c "$rows_c" -o "$work/outpost_rows.o"
# --no-undefined: a symbol the glue needs and this SQLite lacks fails here, not on a device.
gcc -shared -Wl,--no-undefined -Wl,-s "$work/NativeDB.o" "$work/outpost_rows.o" "$work/sqlite3mc.o" -o "$work/libsqlitejdbc.so" \
  -lpthread -ldl -lm
mkdir -p "$cache"
cp "$work/libsqlitejdbc.so" "$cache/libsqlitejdbc.so.tmp" && mv "$cache/libsqlitejdbc.so.tmp" "$cache/libsqlitejdbc.so"
cp "$work/libsqlitejdbc.so" "$out/libsqlitejdbc.so"
