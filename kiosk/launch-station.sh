#!/usr/bin/env bash
# Start a VaultSync station by hand: the terminal service, then a kiosk Chromium on it.
# Usage: kiosk/launch-station.sh cashier|kiosk|manager   (uses kiosk/stations/ROLE.env)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
role="${1:-}"
env_file="$here/stations/$role.env"
if [[ -z "$role" || ! -f "$env_file" ]]; then
  echo "usage: $0 cashier|kiosk|manager" >&2
  exit 2
fi
set -a; source "$env_file"; set +a
VAULTSYNC_DATA_DIR="${VAULTSYNC_DATA_DIR_OVERRIDE:-$VAULTSYNC_DATA_DIR}"
vaultsync="${VAULTSYNC_BIN:-vaultsync}"
browser="${CHROMIUM_BIN:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$browser" ]]; then
  echo "Chromium not found: apt-get install chromium" >&2
  exit 1
fi

"$vaultsync" serve &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do  # /health answers as soon as the server is up
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:${VAULTSYNC_PORT}/health" 2>/dev/null; then
    break
  fi
  sleep 0.2
done

profile="$(mktemp -d)"
# Kiosk flags: full screen, no first-run, no translate bar, no pinch zoom, no swipe
# navigation, no background calls home (they fail on a closed shop network anyway).
"$browser" \
  --kiosk "$VAULTSYNC_KIOSK_URL" \
  --user-data-dir="$profile" \
  --no-first-run --noerrdialogs --disable-infobars --disable-translate \
  --disable-features=TranslateUI,OverscrollHistoryNavigation \
  --disable-pinch --overscroll-history-navigation=0 \
  --disable-background-networking --disable-component-update --disable-sync \
  --check-for-update-interval=31536000 \
  --autoplay-policy=no-user-gesture-required
