# peer_deps.sh — sourced by bench/peers.sh and bench/acai_bench.sh: installs
# what the peer benchmarks need when it is missing (a fresh Debian machine,
# as root or with sudo): nodejs + npm, python3-torch, python3-onnx (apt),
# and onnxruntime-node from npm into bench/node_modules
# (ONNXRUNTIME_NODE_INSTALL=skip: the npm package bundles the CPU library;
# the variable only skips the optional GPU download).  Expects $here (the
# bench folder) and $PY; sets $ortver and $torchver.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_ready=0
need_apt() {
    if [ $apt_ready = 0 ]; then as_root apt-get update -qq; apt_ready=1; fi
    echo "peer_deps.sh: installing $* (apt)" >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need_apt nodejs npm
$PY -c 'import numpy, torch' 2>/dev/null || need_apt python3-numpy python3-torch
$PY -c 'import onnx' 2>/dev/null || need_apt python3-onnx
ortlib=$(ls "$here"/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so* 2>/dev/null | head -n 1 || true)
if [ -z "$ortlib" ]; then
    echo "peer_deps.sh: installing onnxruntime-node (npm) into $here/node_modules" >&2
    (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$here" --no-save --no-package-lock \
        --no-audit --no-fund --loglevel=error onnxruntime-node@1.30.0 >/dev/null)
    ortlib=$(ls "$here"/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so* 2>/dev/null | head -n 1 || true)
    [ -n "$ortlib" ] || { echo "peer_deps.sh: onnxruntime-node has no CPU library for linux/x64" >&2; exit 1; }
fi
ortver=$(node -e "console.log(require('$here/node_modules/onnxruntime-node/package.json').version)")
torchver=$($PY -c 'import torch; print(torch.__version__)')

