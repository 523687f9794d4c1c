#!/usr/bin/env bash
# Renders SVG figures to PNG with headless Chromium (for the documentation's images):
#   scripts/svg-to-png.sh figure.svg out.png
set -euo pipefail
svg="$1"
png="$2"
browser="$(command -v chromium || command -v chromium-browser)"
# matplotlib writes the size in points; the browser lays out 96 pixels per 72 points.
read -r width height < <(sed -n 's/.*<svg[^>]* width="\([0-9.]*\)pt" height="\([0-9.]*\)pt".*/\1 \2/p' "$svg" | head -1)
w=$(awk -v v="$width" 'BEGIN { printf "%d", v * 96 / 72 + 1 }')
h=$(awk -v v="$height" 'BEGIN { printf "%d", v * 96 / 72 + 1 }')
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '<html><body style="margin:0"><img src="file://%s" width="%d" height="%d"></body></html>' \
  "$(realpath "$svg")" "$w" "$h" > "$tmp/page.html"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/profile" \
  --window-size="$w,$h" --screenshot="$png" "file://$tmp/page.html" >/dev/null 2>&1
