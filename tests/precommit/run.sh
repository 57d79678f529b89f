#!/usr/bin/env bash
# Tests the pre-commit hook in .pre-commit-hooks.yaml with the real `pre-commit` tool on a
# generated git repository: a staged transparent App Store icon fails the commit check with
# ITMS-90717, the fixed icon passes, unrelated files do not run the hook, and a staged project
# whose app target now builds for iPad fails with ITMS-90023 on its iPhone-only icon set.
#
# The hook's own definition is used (its `files` pattern, `pass_filenames`, `entry`), as a
# `repo: local` hook run by an already built binary: `language: rust` would make pre-commit
# `cargo install` the whole workspace again, which the CI run already builds.
#
# Usage: tests/precommit/run.sh [path/to/ipagate]   (default: target/<host triple>/debug/ipagate)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=benches/lib.sh
source "$root/benches/lib.sh"
default="$(cd "$root" && out_dir debug)/ipagate"
bin="$(cd "$(dirname "${1:-$default}")" && pwd)/$(basename "${1:-$default}")"
command -v pre-commit >/dev/null || { echo "skipped: pre-commit is not installed (pip install pre-commit)"; exit 0; }
[ -x "$bin" ] || { echo "no ipagate binary at $bin (cargo build first)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q repo && cd repo
git config user.email ci@example.invalid && git config user.name ci

# The hook, as declared, turned into a local one that runs the built binary.
python3 - "$root/.pre-commit-hooks.yaml" "$bin" <<'PY'
import sys, yaml
hooks = yaml.safe_load(open(sys.argv[1]))
hook = dict(hooks[0])
hook["language"] = "system"
hook["entry"] = hook["entry"].replace("ipagate", sys.argv[2], 1)
yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}, open(".pre-commit-config.yaml", "w"))
PY

# A source tree: an iPhone icon set (120, 180, 1024) made of real PNGs.
python3 - <<'PY'
import json, os, struct, zlib
def png(size, rgba, transparent=False):
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    ct, bpp = (6, 4) if rgba else (2, 3)
    rows = b""
    for y in range(size):
        px = []
        for x in range(size):
            a = 0 if (transparent and x == 0 and y == 0) else 255
            px.append(bytes([32, 96, 192, a][:bpp]))
        rows += b"\0" + b"".join(px)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, ct, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
d = "App/Assets.xcassets/AppIcon.appiconset"
os.makedirs(d)
images = []
for idiom, pt, scale in [("iphone", 60, 2), ("iphone", 60, 3), ("ios-marketing", 1024, 1)]:
    name = f"{idiom}-{pt * scale}.png"
    open(f"{d}/{name}", "wb").write(png(pt * scale, rgba=idiom != "ios-marketing"))
    images.append({"filename": name, "idiom": idiom, "scale": f"{scale}x", "size": f"{pt}x{pt}"})
json.dump({"images": images, "info": {"author": "xcode", "version": 1}}, open(f"{d}/Contents.json", "w"))
open("transparent.png", "wb").write(png(1024, rgba=True, transparent=True))
PY
git add -A && git commit -qm "clean tree" --no-verify

echo "== a clean staged set passes"
pre-commit run --files App/Assets.xcassets/AppIcon.appiconset/Contents.json

echo "== a transparent App Store icon fails with ITMS-90717"
cp transparent.png App/Assets.xcassets/AppIcon.appiconset/ios-marketing-1024.png
git add -A
if out="$(pre-commit run 2>&1)"; then echo "$out"; echo "expected the hook to fail" >&2; exit 1; fi
echo "$out" | grep -q 'error\[ITMS-90717\]' || { echo "$out"; echo "expected ITMS-90717" >&2; exit 1; }
echo "$out" | grep -q 'ios-marketing-1024.png' || { echo "$out"; exit 1; }

echo "== files the hook does not match are skipped"
git reset -q --hard
echo hello > README.txt && git add README.txt
pre-commit run | grep -q 'no files to check' || { echo "expected the hook to be skipped" >&2; exit 1; }

echo "== a staged project now built for iPad fails: the iPhone-only set lacks the iPad sizes (ITMS-90023)"
git reset -q --hard
mkdir -p App.xcodeproj
project() {
  cat > App.xcodeproj/project.pbxproj <<PBX
// !\$*UTF8*\$!
{ objects = {
P = { isa = PBXProject; buildConfigurationList = PL; targets = (A); };
PL = { isa = XCConfigurationList; buildConfigurations = (PR); };
PR = { isa = XCBuildConfiguration; name = Release; buildSettings = { SDKROOT = iphoneos; }; };
A = { isa = PBXNativeTarget; name = App; productType = "com.apple.product-type.application"; buildConfigurationList = AL; };
AL = { isa = XCConfigurationList; buildConfigurations = (AR); };
AR = { isa = XCBuildConfiguration; name = Release; buildSettings = { ASSETCATALOG_COMPILER_APPICON_NAME = AppIcon; TARGETED_DEVICE_FAMILY = "$1"; }; };
}; rootObject = P; }
PBX
}
project 1 && git add -A
pre-commit run >/dev/null || { pre-commit run; echo "expected an iPhone-only project to pass" >&2; exit 1; }
git commit -qm "project" --no-verify
project "1,2" && git add -A
if out="$(pre-commit run 2>&1)"; then echo "$out"; echo "expected the hook to fail" >&2; exit 1; fi
echo "$out" | grep -q 'error\[ITMS-90023\]' || { echo "$out"; echo "expected ITMS-90023" >&2; exit 1; }
echo "pre-commit: 4 passed, 0 failed"
