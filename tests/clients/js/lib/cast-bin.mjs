// Where the cast binary is. The npm wrapper node_modules/.bin/cast (bin.mjs of @foundry-rs/cast 1.7.1) always
// exits 0, even when cast fails, so the platform binary from the optional dependency is used directly
// (CAST_BIN overrides).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const JS_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export function castBinary() {
  if (process.env.CAST_BIN) return process.env.CAST_BIN;
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch];
  const platformBin = path.join(JS_DIR, "node_modules", "@foundry-rs", `cast-${process.platform}-${arch}`, "bin", "cast");
  if (fs.existsSync(platformBin)) return platformBin;
  throw new Error(`cast binary not found at ${platformBin}; run tests/clients/install.sh`);
}
