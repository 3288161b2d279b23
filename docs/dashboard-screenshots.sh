#!/usr/bin/env bash
# Writes docs/dashboard-overview.png, -instances.png and -policies.png: the dashboard's main views as the browser test
# renders them (Debian's chromium through Playwright, a real meshd with the demo's services and a minute of reports).
set -euo pipefail
cd "$(dirname "$0")/.."
MESH_DASHBOARD_SCREENSHOTS="$PWD/docs" dotnet test tests/Mesh.Dashboard.Tests --filter FullyQualifiedName~ScreenshotTests "$@"
