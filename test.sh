#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs every test of the solution.
#   ./test.sh                 # everything
#   ./test.sh --filter X      # arguments go to `dotnet test`
# The tests start real servers on 127.0.0.1: Debian's nginx (the load bench's sidecar pair), etcd (meshd's
# replicated store and the etcd discovery source) and dnsmasq (the dns discovery source; the dnsmasq-base package has
# the program without the system service) and chromium (the dashboard's browser tests drive /usr/bin/chromium through
# Playwright) besides the .NET SDK. Missing ones are installed with apt-get (as root, or through sudo).
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_CLI_UI_LANGUAGE=en

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET SDK (dotnet) is not on PATH; install the .NET 10 SDK first." >&2
  exit 1
fi

# Debian package -> a program it installs.
declare -A needed=(
  [nginx]=/usr/sbin/nginx
  [etcd-server]=etcd
  [dnsmasq-base]=/usr/sbin/dnsmasq
  [openssl]=openssl
  [curl]=curl
  [chromium]=/usr/bin/chromium
)

missing=()
for package in "${!needed[@]}"; do
  program=${needed[$package]}
  if ! command -v "$program" >/dev/null 2>&1 && [ ! -x "$program" ]; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} (Debian packages the tests start on loopback)"
  if [ "$(id -u)" -eq 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt=(sudo apt-get)
  else
    echo "test.sh: ${missing[*]} missing and neither root nor sudo is available; install them and run again." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" update -q
  "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

set +e
dotnet test Mesh.Library.sln "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole run, summed over the test assemblies.
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "Tests: ${passed} passed, ${failed} failed"

if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  exit 1
fi
if [ "$passed" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  exit 1
fi
