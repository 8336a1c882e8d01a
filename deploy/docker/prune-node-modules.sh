#!/bin/sh
# Shrinks a production node_modules for the Linux x64 runtime image (target: image < 300 MB).
# Run from the app directory after `npm ci --omit=dev`. Each rule removes files nothing loads
# at run time on linux/x64; test/unit/deploy-docker.test.ts runs this script on a real
# production install and then serves and smoke-tests the embedded models from it.
set -eu

nm=${1:-node_modules}
[ -d "$nm" ] || { echo "prune: $nm is not a directory" >&2; exit 2; }

# onnxruntime-node ships every platform's binaries (~290 MB); keep linux/x64 CPU only.
ort="$nm/onnxruntime-node/bin/napi-v6"
if [ -d "$ort" ]; then
  rm -rf "$ort/darwin" "$ort/win32" "$ort/linux/arm64"
  [ -f "$ort/linux/x64/onnxruntime_binding.node" ] || { echo "prune: linux/x64 onnxruntime binding missing" >&2; exit 1; }
fi

# transformers.js (training and the benchmark only) is a dev dependency and no longer reaches a
# production install; if one still has it (an older lockfile), the same rules as before apply:
# its Node build inlines the onnxruntime-web code it needs (~145 MB of WebAssembly left out) and
# Node loads dist/transformers.node.{mjs,cjs} only.
rm -rf "$nm/onnxruntime-web"
tf="$nm/@huggingface/transformers"
rm -rf "$tf/src" "$tf/types"
rm -f "$tf/dist/transformers.js" "$tf/dist/transformers.min.js" "$tf/dist/transformers.web.js" \
  "$tf/dist/transformers.web.min.js" "$tf/dist/transformers.node.min.mjs" "$tf/dist/transformers.node.min.cjs"

# OpenTelemetry packages ship CommonJS, ES module and "esnext" builds; Node resolves "require"
# and "import" (build/src, build/esm), never the bundler-only "esnext" condition.
for pkg in "$nm"/@opentelemetry/*; do rm -rf "$pkg/build/esnext"; done

# better-sqlite3 after its native build: the SQLite amalgamation, C++ sources and object files.
sq="$nm/better-sqlite3"
if [ -d "$sq" ]; then
  rm -rf "$sq/deps" "$sq/src" "$sq/build/Release/obj" "$sq/build/Release/obj.target" "$sq/build/Release/.deps" \
    "$sq/build/deps" "$sq/build/Release/test_extension.node"
  rm -f "$sq"/build/Release/*.a
fi

# protobufjs' command-line code generator (pbjs/pbts) is a build tool, and its dist/ holds the
# browser bundles: Node loads src/ (index.js, minimal.js). Also the copy @grpc/proto-loader nests.
for pb in "$nm/protobufjs" "$nm/@grpc/proto-loader/node_modules/protobufjs"; do
  rm -rf "$pb/cli" "$pb/dist"
done

# @grpc/grpc-js runs from build/; src/ is its TypeScript source.
rm -rf "$nm/@grpc/grpc-js/src"

# Source maps, TypeScript declarations and docs are never read at run time.
find "$nm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -iname 'README*' -o -iname 'CHANGELOG*' -o -iname 'HISTORY*' \) -delete
find "$nm" -type d \( -name test -o -name tests -o -name __tests__ -o -name example -o -name examples \) \
  -prune -exec rm -rf {} +

echo "prune: $(du -sh "$nm" | cut -f1) left in $nm"
