#!/usr/bin/env bash
# Prove the Raspberry Pi path on an x86-64 Debian machine: an arm64 Debian root of the host's
# release run through qemu-user (binfmt_misc), `pip install .` in it (the native frontend built
# by its gcc; numpy, soxr, ai-edge-litert as aarch64 wheels from PyPI), then `python -m
# kws.listen --model firmware_models/hey_jarvis.tflite --input firmware_models/demo/wake_words.wav`
# there and on the host, compared (tools/arm64_report.py), with the native frontend against the
# numpy reference under arm64, then tests/test_features.py in the root. Writes
# benchmarks/results/arm64/arm64_check.{md,json}; exit 0 when every check passed. Timings are
# qemu's, not a Pi's.
#
# Usage: sudo tools/arm64_check.sh [ROOT]      (needs root: apt-get, debootstrap, chroot, mount)
#   ROOT              the arm64 root, outside the checkout; reused when present
#                     (default $KWS_ARM64_ROOT, else /var/tmp/kws-arm64-root)
#   KWS_HOST_PYTHON   the host's Python with kws' runtime installed (default .venv/bin/python)
#   KWS_ARM64_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   KWS_ARM64_SUITE   Debian release of the root (default: the host's, e.g. bookworm)
# The slow steps (debootstrap 2.5 minutes, apt-get in the root 3.5, pip install 1, the tests 1.5
# on a 2-core machine) run under `nice -n 15`; a second run reuses the root and redoes only the
# checkout copy, a fresh venv with `pip install .`, the comparison and the tests.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(realpath -m "${1:-${KWS_ARM64_ROOT:-/var/tmp/kws-arm64-root}}")
MIRROR=${KWS_ARM64_MIRROR:-http://deb.debian.org/debian}
HOST_PY=${KWS_HOST_PYTHON:-$REPO/.venv/bin/python}
OUT=$REPO/benchmarks/results/arm64
NICE=(nice -n 15)
GUEST_PACKAGES=(python3 python3-venv python3-dev gcc libc6-dev)

die() { echo "arm64_check: $*" >&2; exit 2; }
say() { echo "arm64_check: $*" >&2; }
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get, debootstrap, chroot, mount): run it with sudo"
[[ $REPO != *[[:space:]]* ]] || die "the checkout's path $REPO has spaces; move it"
case "$ROOT/" in "$REPO"/*) die "$ROOT is inside the checkout; give a root outside it" ;; esac
[ -x "$HOST_PY" ] || HOST_PY=$(command -v python3)
[ "$(uname -m)" = x86_64 ] || say "host is $(uname -m), not x86_64: the comparison still runs"
SUITE=${KWS_ARM64_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:?no codename}")}

declare -A SECONDS_OF=()
STEPS=()
timed() {  # timed NAME COMMAND...: run it, remember its wall seconds
  local name=$1 start ns
  shift
  start=$(date +%s%N)
  "$@" || return $?
  ns=$(($(date +%s%N) - start))
  STEPS+=("$name")
  SECONDS_OF[$name]=$(printf '%d.%03d' $((ns / 1000000000)) $((ns / 1000000 % 1000)))
}

# 1. Host tools: qemu-user-static (its binfmt entries use the F flag, so the root needs no copy
# of the emulator), binfmt-support to register them, debootstrap.
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi
BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e $BINFMT/qemu-aarch64 ]; then
  # In a container without systemd nobody mounted binfmt_misc or ran binfmt-support.
  [ -e $BINFMT/register ] || mount -t binfmt_misc binfmt_misc $BINFMT ||
    die "cannot mount binfmt_misc (a container without CAP_SYS_ADMIN?); arm64 binaries cannot run"
  update-binfmts --enable qemu-aarch64 || die "update-binfmts cannot register qemu-aarch64"
fi
grep -qx enabled $BINFMT/qemu-aarch64 || die "$BINFMT/qemu-aarch64 is registered but disabled"
FLAGS=$(sed -n 's/^flags: //p' $BINFMT/qemu-aarch64)
INTERPRETER=$(sed -n 's/^interpreter //p' $BINFMT/qemu-aarch64)

# 2. The arm64 root of the host's Debian release.
mkdir -p "$ROOT"
if [ ! -e "$ROOT/.kws-debootstrap-done" ]; then
  say "debootstrap --arch=arm64 $SUITE into $ROOT (2.5 minutes on a 2-core machine)"
  timed debootstrap "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase "$SUITE" "$ROOT" \
    "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 || die "debootstrap failed; see $ROOT.debootstrap.log"
  touch "$ROOT/.kws-debootstrap-done"
  echo "debootstrap_wall_s ${SECONDS_OF[debootstrap]}" >>"$ROOT/.kws-root-timings"
fi
if [[ $FLAGS != *F* ]]; then  # the kernel opens the interpreter inside the root: put it there
  mkdir -p "$ROOT$(dirname "$INTERPRETER")"
  cp "$(readlink -f "$INTERPRETER")" "$ROOT$INTERPRETER"
fi
MOUNTED=()
cleanup() { for m in "${MOUNTED[@]}"; do umount "$m" || umount -l "$m"; done; }
trap cleanup EXIT
for m in proc dev; do
  mountpoint -q "$ROOT/$m" && continue
  if [ $m = proc ]; then mount -t proc proc "$ROOT/proc"; else mount --bind /dev "$ROOT/dev"; fi
  MOUNTED=("$ROOT/$m" "${MOUNTED[@]}")
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# pip in the root trusts what the host trusts (a TLS-inspecting proxy's CA, say); it reads no
# pip configuration of the host, so its packages come from PyPI.
HOST_CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$HOST_CA" ] && cp "$HOST_CA" "$ROOT/etc/kws-host-ca.crt"
IN_ROOT=(chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  HOME=/opt/kws-home LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
[ -f "$ROOT/etc/kws-host-ca.crt" ] && IN_ROOT+=(PIP_CERT=/etc/kws-host-ca.crt)
[ "$("${IN_ROOT[@]}" uname -m)" = aarch64 ] || die "the root does not run as aarch64"

# 3. What a Pi user installs: Debian's python3, venv and a C compiler for the native frontend.
if ! "${IN_ROOT[@]}" dpkg -s "${GUEST_PACKAGES[@]}" >/dev/null 2>&1; then
  say "apt-get install ${GUEST_PACKAGES[*]} in the root"
  timed guest_apt "${NICE[@]}" "${IN_ROOT[@]}" sh -c "apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends ${GUEST_PACKAGES[*]} >/dev/null"
  echo "guest_apt_wall_s ${SECONDS_OF[guest_apt]}" >>"$ROOT/.kws-root-timings"
fi

# 4. The checkout's files (tracked and new, not ignored: no build products) and a fresh venv.
SRC=/opt/kws-src
WORK=/opt/kws-out
rm -rf "${ROOT:?}$SRC" "${ROOT:?}/opt/kws-venv"
mkdir -p "$ROOT$SRC" "$ROOT$WORK"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
  tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$ROOT$SRC"
COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD)  # "-dirty": changes besides earlier results
git -C "$REPO" diff --quiet HEAD -- . ":(exclude)benchmarks/results/arm64" || COMMIT+=-dirty
say "python3 -m venv and pip install . in the root (builds the native frontend with gcc)"
timed venv "${NICE[@]}" "${IN_ROOT[@]}" python3 -m venv /opt/kws-venv
timed pip_install "${NICE[@]}" "${IN_ROOT[@]}" /opt/kws-venv/bin/pip install -q --no-input \
  --progress-bar off --report $WORK/pip-report.json --only-binary numpy,soxr,ai-edge-litert $SRC

# 5. The same probe on arm64 (the installed kws: a script path keeps the checkout off sys.path)
# and on the host (the checkout's kws), then the comparison.
say "probing under arm64 emulation"
# Besides hey_jarvis (int8 weights, float activations), a float32 and a fully int8 model are
# scored to show which interpreter kernels give the same bits on both machines.
probe_args() {  # probe_args CHECKOUT: the probe's model and recording arguments
  echo "--model $1/firmware_models/hey_jarvis.tflite --input $1/firmware_models/demo/wake_words.wav
    --also-score $1/firmware_models/chirp_demo_streaming.tflite
    --also-score $1/firmware_models/environment.tflite"
}
# shellcheck disable=SC2046  # no spaces in these paths (checked above): splitting is wanted
timed arm64_probe "${NICE[@]}" "${IN_ROOT[@]}" /opt/kws-venv/bin/python $SRC/tools/arm64_probe.py \
  $(probe_args $SRC) --out $WORK/arm64.json --arrays $WORK/arm64.npz
say "probing on the host with $HOST_PY"
# shellcheck disable=SC2046
timed host_probe env PYTHONPATH="$REPO" PYTHONDONTWRITEBYTECODE=1 \
  "$HOST_PY" "$REPO/tools/arm64_probe.py" $(probe_args "$REPO") \
  --out "$ROOT$WORK/host.json" --arrays "$ROOT$WORK/host.npz"
# 6. The frontend's own tests on arm64 (python_speech_features as the oracle, native against
# numpy over drawn configs), from a copy outside the checkout so that the installed kws is
# tested; their dependencies go into the venv only now, after the runtime's checks.
say "tests/test_features.py under arm64 emulation"
rm -rf "${ROOT:?}/opt/kws-tests"
mkdir -p "$ROOT/opt/kws-tests"
cp "$REPO/tests/conftest.py" "$REPO/tests/test_features.py" "$ROOT/opt/kws-tests/"
timed test_deps "${NICE[@]}" "${IN_ROOT[@]}" /opt/kws-venv/bin/pip install -q --no-input \
  --progress-bar off --only-binary numpy,scipy "pytest>=8" "hypothesis>=6.100" \
  "python_speech_features>=0.6" "scipy>=1.10"
tests_rc=0
timed feature_tests "${NICE[@]}" "${IN_ROOT[@]}" sh -c "cd /opt/kws-tests &&
  exec /opt/kws-venv/bin/python -m pytest -q -p no:cacheprovider test_features.py" \
  >"$ROOT$WORK/feature_tests.txt" 2>&1 || tests_rc=$?
tests_summary=$(tail -1 "$ROOT$WORK/feature_tests.txt" | tr -d '="\\' | sed 's/^ *//; s/ *$//')

timings=""
for name in "${STEPS[@]}"; do
  timings+="${timings:+, }\"${name}_wall_s\": ${SECONDS_OF[$name]}"
done
root_timings=""  # of the run that made the root (this one, or an earlier one)
while read -r name value; do
  root_timings+="${root_timings:+, }\"$name\": $value"
done < <(cat "$ROOT/.kws-root-timings" 2>/dev/null)
cat >"$ROOT$WORK/setup.json" <<EOF
{"suite": "$SUITE", "mirror": "$MIRROR", "root": "$ROOT", "commit": "$COMMIT",
 "qemu": "$(qemu-aarch64-static --version | head -1)",
 "binfmt": "binfmt_misc entry qemu-aarch64, flags $FLAGS, interpreter $INTERPRETER",
 "guest_packages": "${GUEST_PACKAGES[*]}", "timings_s": {$timings},
 "feature_tests": {"returncode": $tests_rc, "summary": "$tests_summary"},
 "root_setup_timings_s": {$root_timings}}
EOF
status=0
PYTHONPATH="$REPO" PYTHONDONTWRITEBYTECODE=1 "$HOST_PY" "$REPO/tools/arm64_report.py" \
  --out-dir "$OUT" \
  --host "$ROOT$WORK/host.json" --host-arrays "$ROOT$WORK/host.npz" \
  --arm64 "$ROOT$WORK/arm64.json" --arm64-arrays "$ROOT$WORK/arm64.npz" \
  --setup "$ROOT$WORK/setup.json" --pip-report "$ROOT$WORK/pip-report.json" || status=$?
chown -R --reference="$REPO" "$OUT"  # run with sudo: the results belong to the checkout's owner
say "wrote $OUT/arm64_check.md"
exit $status
