# pins.sh — pinned versions and sha256 of everything scripts/onnx/ downloads.
# Sourced by the other scripts.  Change a pin only together with its hash.
ORT_HEADER_DEB_VERSION="1.21.0+dfsg-1"   # Debian 13 (trixie) libonnxruntime-dev
ORT_HEADER_DEB_SHA256="14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08"
ORT_NPM="onnxruntime-node@1.30.0"
ORT_NPM_TGZ="onnxruntime-node-1.30.0.tgz"
ORT_NPM_TGZ_SHA256="6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75"
ORT_LIB_PATH_IN_TGZ="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
ORT_LIB_SHA256="ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"
