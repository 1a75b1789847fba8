#!/usr/bin/env bash
# Install `edgeseg serve` as a systemd service on a Jetson (JetPack 6) or another Linux box. Run as root
# from the project checkout:  sudo ./jetson/install.sh [--bundle DIR] [--no-start]
#
# - detects JetPack (L4T release, TensorRT Python bindings) and makes a venv that sees JetPack's TensorRT
#   through --system-site-packages (TensorRT is not pip-installable on Jetson);
# - installs edgeseg with the service and mqtt extras into /opt/edgeseg/venv;
# - creates the `edgeseg` user (groups video, render), /etc/edgeseg/edgeseg.toml (kept if present),
#   /var/lib/edgeseg (outputs, model bundle and its engines);
# - installs edgeseg.service; engines are built by ExecStartPre on first start (edgeseg-prepare).
set -euo pipefail

PREFIX=/opt/edgeseg
STATE=/var/lib/edgeseg
CONF=/etc/edgeseg/edgeseg.toml
BUNDLE=""
START=1
while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) BUNDLE="$2"; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }
SRC="$(cd "$(dirname "$0")/.." && pwd)"

# --- platform ------------------------------------------------------------------------------------------
JETPACK=""
if [ -r /etc/nv_tegra_release ]; then
    L4T=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\).*/\1.\2/p' /etc/nv_tegra_release)
    JETPACK=$(dpkg-query -W -f='${Version}' nvidia-jetpack 2>/dev/null || true)
    echo "Jetson: L4T ${L4T:-?}, JetPack ${JETPACK:-not installed as a package}"
    case "$L4T" in 36.*) ;; *) echo "warning: tested on JetPack 6 (L4T 36); found L4T ${L4T:-?}" >&2 ;; esac
else
    echo "not a Jetson (no /etc/nv_tegra_release): installing for this machine's Python"
fi
PY=python3
$PY -c 'import sys; assert sys.version_info >= (3, 10)' || { echo "install.sh: Python >= 3.10 needed" >&2; exit 1; }
if $PY -c 'import tensorrt' 2>/dev/null; then
    echo "TensorRT $($PY -c 'import tensorrt; print(tensorrt.__version__)') from the system: the venv will see it"
elif [ -n "$JETPACK" ] || [ -r /etc/nv_tegra_release ]; then
    echo "warning: JetPack's TensorRT Python bindings are missing (apt install python3-libnvinfer); falling back to onnxruntime" >&2
fi

# --- user, directories, venv ---------------------------------------------------------------------------
id edgeseg >/dev/null 2>&1 || useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin edgeseg
for g in video render; do getent group "$g" >/dev/null && usermod -aG "$g" edgeseg; done
install -d -m 0755 "$PREFIX" "$PREFIX/bin" /etc/edgeseg
install -d -m 0750 -o edgeseg -g edgeseg "$STATE" "$STATE/models"
[ -d "$PREFIX/venv" ] || $PY -m venv --system-site-packages "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q "$SRC[service,mqtt]"
install -m 0644 "$SRC/jetson/README.md" "$PREFIX/README.md"

# --- model: a writable copy, so engines can be built next to it -----------------------------------------
if [ -z "$BUNDLE" ]; then
    BUNDLE=$("$PREFIX/venv/bin/python" -c 'from edgeseg.backend.networks import default_bundle_path as p; print(p())')
fi
[ -f "$BUNDLE/manifest.json" ] || { echo "install.sh: $BUNDLE is not a model bundle (no manifest.json)" >&2; exit 1; }
NAME=$(basename "$(cd "$BUNDLE" && pwd)")
rm -rf "$STATE/models/$NAME.new" && cp -r "$BUNDLE" "$STATE/models/$NAME.new"
rm -rf "$STATE/models/$NAME" && mv "$STATE/models/$NAME.new" "$STATE/models/$NAME"
chown -R edgeseg:edgeseg "$STATE/models"

# --- config and unit -----------------------------------------------------------------------------------
if [ ! -f "$CONF" ]; then
    sed -e "s|^# bundle = .*|bundle = \"$STATE/models/$NAME\"|" "$SRC/jetson/edgeseg.toml" > "$CONF"
    echo "wrote $CONF: edit the cameras, then: systemctl restart edgeseg"
fi
chmod 0644 "$CONF"
cat > "$PREFIX/bin/edgeseg-prepare" <<PREP
#!/bin/sh
# ExecStartPre: build TensorRT engines for the configured bundle when TensorRT is present (no-op when current).
BUNDLE=\$(sed -n 's/^bundle *= *"\\(.*\\)".*/\\1/p' $CONF | head -n 1)
[ -n "\$BUNDLE" ] || exit 0
$PREFIX/venv/bin/python -c 'import tensorrt' 2>/dev/null || exit 0
exec $PREFIX/venv/bin/edgeseg build-engines "\$BUNDLE" --max-batch 8
PREP
chmod 0755 "$PREFIX/bin/edgeseg-prepare"
install -m 0644 "$SRC/jetson/edgeseg.service" /etc/systemd/system/edgeseg.service
systemctl daemon-reload
systemctl enable edgeseg.service
if [ "$START" = 1 ]; then
    systemctl restart edgeseg.service
    systemctl --no-pager status edgeseg.service | head -n 5 || true
fi
echo "installed. Logs: journalctl -u edgeseg -f ; metrics: curl -s 127.0.0.1:9108/metrics"
