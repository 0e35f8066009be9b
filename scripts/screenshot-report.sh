#!/usr/bin/env bash
# Screenshots of an aqnn HTML report in headless Chromium, for looking at (not run in CI).
#
#   scripts/screenshot-report.sh [REPORT_DIR_OR_INDEX] [OUT_DIR] [CHUNKS]
#
# Defaults: /tmp/rq/report/index.html (from `aqnn reproduce --quick --out /tmp/rq`),
# /tmp/report-shots, 8 chunks. Writes OUT_DIR/top.png (the first 1400x4000 pixels, as a
# reader first sees the page) and OUT_DIR/part-01.png ... (the page cut into 1400x2000
# slices, by shifting the report inside an iframe), so every part of a long page can be
# inspected at full resolution. Network access is blocked (every host resolves to nothing), so
# a report that needs the network shows up broken here.
#
# Needs Debian's chromium: apt-get update && apt-get install -y chromium
set -euo pipefail

target=${1:-/tmp/rq/report/index.html}
out=${2:-/tmp/report-shots}
chunks=${3:-8}
width=1400
slice=2000

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
index=$(cd "$(dirname "$target")" && pwd)/$(basename "$target")
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shoot() { # shoot OUT.png URL WIDTH HEIGHT
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --host-resolver-rules="MAP * ~NOTFOUND" --allow-file-access-from-files \
    --virtual-time-budget=5000 --user-data-dir="$tmp/profile" \
    --screenshot="$1" --window-size="$3,$4" "$2" >/dev/null 2>&1
}

shoot "$out/top.png" "file://$index" "$width" 4000
echo "$out/top.png"
for k in $(seq 1 "$chunks"); do
  off=$(( (k - 1) * slice ))
  page="$tmp/part-$k.html"
  cat >"$page" <<HTML
<!DOCTYPE html><html><body style="margin:0;overflow:hidden">
<iframe src="file://$index" style="position:absolute;left:0;top:-${off}px;width:${width}px;height:$(( off + slice ))px;border:0"></iframe>
</body></html>
HTML
  name=$(printf 'part-%02d.png' "$k")
  shoot "$out/$name" "file://$page" "$width" "$slice"
  echo "$out/$name"
done
