#!/usr/bin/env bash
# The release check of what a deploy ships: builds the three functions
# exactly as `sam build` does for the template (cargo lambda, the release
# profile, zig as the cross-linker), for arm64 (the template's default) and
# x86_64, reports the stripped sizes against the 8 MB budget, and starts each
# arm64 bootstrap under qemu-user far enough to reach the first Lambda
# Runtime API poll.
#
#   infra/scripts/sam-build.sh [--arch arm64|x86_64|both] [--no-qemu]
#
# Needs: rustup (fetches the aarch64 target), PyPI (aws-sam-cli, cargo-lambda,
# ziglang go into .venv-sam, or use the virtualenv SAM_VENV names), and for
# the qemu step qemu-user and libc6-arm64-cross (apt-get installs them when
# missing and running as root). Not part of infra/scripts/test.sh: a cold
# build of both architectures takes about an hour on a 2-core machine.
# Output: target/sam/<arch>/ (SAM's build dir) and target/sam/sizes.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

arch=both
qemu=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch="$2"; shift 2 ;;
        --no-qemu) qemu=no; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$arch" in
    both) arches=(arm64 x86_64) ;;
    arm64|x86_64) arches=("$arch") ;;
    *) echo "--arch must be arm64, x86_64 or both" >&2; exit 2 ;;
esac

budget_bytes=8000000
venv=${SAM_VENV:-.venv-sam}
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cargo-lambda" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1
fi
# sam runs `cargo lambda`; cargo-lambda finds zig through the venv's python.
venv=$(cd "$venv" && pwd)
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

if [[ " ${arches[*]} " == *" arm64 "* ]]; then
    rustup target add aarch64-unknown-linux-gnu >/dev/null
fi

mkdir -p target/sam
sizes=target/sam/sizes.txt
: > "$sizes"
status=0
for a in "${arches[@]}"; do
    echo "==> sam build --beta-features ($a)"
    sam build --beta-features --template-file template.yaml \
        --build-dir "target/sam/$a" --parameter-overrides "Architecture=$a"
    for fn in Ingest Transfer Rescan; do
        bootstrap="target/sam/$a/${fn}Function/bootstrap"
        bytes=$(stat -c %s "$bootstrap")
        # ELF header byte 18: the machine (0xb7 aarch64, 0x3e x86-64).
        machine=$(od -An -tx1 -j18 -N1 "$bootstrap" | tr -d ' ')
        verdict=ok
        if [ "$bytes" -ge "$budget_bytes" ]; then verdict="OVER 8 MB"; status=1; fi
        awk -v a="$a" -v f="$fn" -v b="$bytes" -v v="$verdict" -v m="$machine" \
            'BEGIN { printf "%-7s %-9s %9d bytes  %5.2f MB  %s  (ELF machine 0x%s)\n", a, f, b, b / 1e6, v, m }' \
            | tee -a "$sizes"
    done
done

if [ "$qemu" = yes ] && [[ " ${arches[*]} " == *" arm64 "* ]]; then
    if ! command -v qemu-aarch64 >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get install -y -q qemu-user libc6-arm64-cross >/dev/null
        else
            echo "qemu step needs: apt-get install qemu-user libc6-arm64-cross" >&2
            exit 1
        fi
    fi
    echo "==> arm64 bootstraps under qemu-user, to the first Runtime API poll"
    python3 infra/bench/coldstart.py --runs 3 --sam-build-dir target/sam/arm64 \
        --wrapper "qemu-aarch64 -L /usr/aarch64-linux-gnu" | tee -a "$sizes" || status=1
fi

echo
cat "$sizes"
exit "$status"
