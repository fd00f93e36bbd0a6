#!/usr/bin/env bash
# ctest "consumer: readme_install": installs obs exactly as README.md says, and
# builds a find_package consumer of every component against the result.
#
#   readme_install.sh SOURCE_DIR WORK_DIR GENERATOR [CXX_LAUNCHER]
#
# 1. Takes the install commands from README.md: the ```sh block that follows
#    the line `<!-- tests/consumers/readme_install.sh runs these commands -->`
#    (none found fails the test, so the README cannot drift away from it).
# 2. Copies SOURCE_DIR, without its build trees, to WORK_DIR/tree: the files
#    git tracks or would track, or everything but build/ and .git outside a
#    checkout.
# 3. Runs the commands there, verbatim, with bash -e, and DESTDIR set so that
#    `--prefix /usr/local` lands in WORK_DIR/stage/usr/local, not on the
#    machine. Only the environment differs from a user's shell: no
#    CMAKE_GENERATOR, and CMAKE_CXX_COMPILER_LAUNCHER=CXX_LAUNCHER (ccache)
#    when given, so that a second run on one machine is quick.
# 4. Builds tests/consumers/every_component (run_consumer.cmake) with
#    CMAKE_PREFIX_PATH at the staged prefix: every component, in its default
#    form, each of its forms defined, and the program's output checked.
set -euo pipefail

src=$(cd "$1" && pwd) work=$2 generator=$3 launcher=${4:-}
marker='<!-- tests/consumers/readme_install.sh runs these commands -->'

commands=$(awk -v marker="$marker" '
  $0 == marker { found = 1; next }
  found && !inblock && /^```sh$/ { inblock = 1; next }
  inblock && /^```$/ { exit }
  inblock { print }' "$src/README.md")
if [[ -z $commands ]]; then
  echo "README.md has no \`\`\`sh block after the line: $marker" >&2
  exit 1
fi
printf 'The README'"'"'s install commands:\n%s\n\n' "$commands"

rm -rf "$work"
mkdir -p "$work/tree" "$work/stage"
if [[ $(git -C "$src" rev-parse --show-toplevel 2>/dev/null) == "$src" ]]; then
  # Tracked and untracked-but-not-ignored files that exist (a file deleted in
  # the work tree is still listed as tracked).
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done) >"$work/files"
  tar -C "$src" --null -T "$work/files" -cf - | tar -C "$work/tree" -xf -
else
  tar -C "$src" --exclude=./build --exclude=./.git -cf - . | tar -C "$work/tree" -xf -
fi

env_args=(-u CMAKE_GENERATOR -u CMAKE_BUILD_TYPE -u CMAKE_PREFIX_PATH -u CMAKE_INSTALL_PREFIX "DESTDIR=$work/stage")
if [[ -n $launcher ]]; then
  env_args+=("CMAKE_CXX_COMPILER_LAUNCHER=$launcher")
fi
(cd "$work/tree" && env "${env_args[@]}" bash -e -x -c "$commands")

config=$(find "$work/stage" -name obsConfig.cmake -print -quit)
if [[ -z $config ]]; then
  echo "the commands installed no obsConfig.cmake under $work/stage" >&2
  exit 1
fi
# PREFIX/share/cmake/obs/obsConfig.cmake
prefix=$(dirname "$(dirname "$(dirname "$(dirname "$config")")")")
echo "installed: $prefix"

components=prometheus,openmetrics,json
cp "$src/tests/consumers/every_component_expected_output.txt" "$work/expected_output.txt"
if [[ -f $prefix/share/cmake/obs/obs_httpTargets.cmake ]]; then
  components+=,http
  echo "http serving: yes" >>"$work/expected_output.txt"
fi
# Built by default where protozero (libprotozero-dev) is installed.
if [[ -f $prefix/share/cmake/obs/obs_protobufTargets.cmake ]]; then
  components+=,protobuf
  echo "protobuf names jobs_total: yes" >>"$work/expected_output.txt"
fi
# Built by default where protozero and snappy (libsnappy-dev) are installed.
if [[ -f $prefix/share/cmake/obs/obs_remote_writeTargets.cmake ]]; then
  components+=,remote_write
  echo "remote_write encodes jobs_total: yes" >>"$work/expected_output.txt"
fi
consumer_args="-DCMAKE_PREFIX_PATH=$prefix|-DOBS_EXPECTED_COMPONENTS=$components"
cmake -DCONSUMER_SOURCE_DIR="$src/tests/consumers/every_component" \
      -DCONSUMER_BINARY_DIR="$work/consumer" \
      -DEXPECTED_OUTPUT="$work/expected_output.txt" \
      -DGENERATOR="$generator" \
      -DCXX_COMPILER="${CXX:-c++}" \
      "-DCXX_FLAGS=-Wall -Wextra -Werror" \
      -DCXX_LAUNCHER="$launcher" \
      "-DCONSUMER_ARGS=$consumer_args" \
      -P "$src/tests/consumers/run_consumer.cmake"
