#!/usr/bin/env bash
# Screenshots of an aqnn HTML report in headless Chromium, for looking at (not run in CI).
#
#   scripts/screenshot-report.sh [REPORT_DIR_OR_INDEX] [OUT_DIR]
#
# Defaults: /tmp/rq/report/index.html (from `aqnn reproduce --quick --out /tmp/rq`) and
# /tmp/report-shots. First measures the page's full height (a copy of the page with a one-line
# script that writes its height into the title, read back with --dump-dom), then writes
#   OUT_DIR/full.png       the whole page, 1400 pixels wide, top to bottom (when it is at most
#                          32000 pixels tall; a taller window may fail), and
#   OUT_DIR/part-01.png .. the page cut into 1400x2000 slices, as many as it takes to reach
#                          the bottom (the last one may end below the page), so every part of
#                          a long page can be inspected at full resolution.
# It prints the page height and every file written. Network access is blocked (every host
# resolves to nothing), so a report that needs the network shows up broken here.
#
# Needs Debian's chromium: apt-get update && apt-get install -y chromium
set -euo pipefail

target=${1:-/tmp/rq/report/index.html}
out=${2:-/tmp/report-shots}
width=1400
slice=2000
max_full=32000

if [ -d "$target" ]; then target="$target/index.html"; fi
if [ ! -f "$target" ]; then
  echo "error: no report at $target (run: aqnn reproduce --quick --out /tmp/rq, or aqnn report RUNS --out DIR)" >&2
  exit 1
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "error: chromium not found: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
dir=$(cd "$(dirname "$target")" && pwd)
index=$dir/$(basename "$target")
mkdir -p "$out"
rm -f "$out"/full.png "$out"/part-*.png "$out"/top.png
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # run ARGS...: headless Chromium, no network, a fresh profile each time
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --host-resolver-rules="MAP * ~NOTFOUND" --allow-file-access-from-files \
    --virtual-time-budget=5000 --user-data-dir="$(mktemp -d "$tmp/profile.XXXX")" "$@" 2>/dev/null
}

# 1. The page's height at this width: a copy that reports it, with <base> after <head> so
# relative links still resolve against the report's directory (put before <!DOCTYPE html>, it
# would switch the page to quirks mode and change its height).
probe="$tmp/probe.html"
script='<script>addEventListener("load",()=>{document.title="AQNN-HEIGHT-"+Math.ceil(document.documentElement.scrollHeight)})</script>'
awk -v base="<base href=\"file://$dir/\">" -v script="$script" '
  !b && /<head>/ { sub(/<head>/, "<head>" base); b = 1 }
  { print }
  END { print script }' "$index" >"$probe"
height=$(run --window-size="$width,1000" --dump-dom "file://$probe" |
  grep -o 'AQNN-HEIGHT-[0-9]*' | head -n1 | sed 's/AQNN-HEIGHT-//' || true)
if [ -z "$height" ] || [ "$height" -le 0 ]; then
  echo "error: could not measure the page's height with $browser" >&2
  exit 1
fi
echo "page height: $height px at width $width"

# 2. The whole page in one picture, when Chromium can make one that tall.
if [ "$height" -le "$max_full" ]; then
  run --screenshot="$out/full.png" --window-size="$width,$height" "file://$index" >/dev/null
  echo "$out/full.png"
else
  echo "page taller than $max_full px: no full.png, see the slices"
fi

# 3. Slices down to the bottom, by shifting the page inside an iframe.
chunks=$(( (height + slice - 1) / slice ))
for k in $(seq 1 "$chunks"); do
  off=$(( (k - 1) * slice ))
  page="$tmp/part-$k.html"
  cat >"$page" <<HTML
<!DOCTYPE html><html><body style="margin:0;overflow:hidden">
<iframe src="file://$index" style="position:absolute;left:0;top:-${off}px;width:${width}px;height:$(( off + slice ))px;border:0"></iframe>
</body></html>
HTML
  name=$(printf 'part-%02d.png' "$k")
  run --screenshot="$out/$name" --window-size="$width,$slice" "file://$page" >/dev/null
  echo "$out/$name"
done
