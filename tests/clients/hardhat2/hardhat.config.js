// Hardhat 2 project used by the pysei real-client conformance suite.
//
// It targets an *external* node (network "pysei"), configured from:
//   PYSEI_RPC_URL       e.g. http://127.0.0.1:8545
//   PYSEI_CHAIN_ID      e.g. 713714
//   PYSEI_PRIVATE_KEYS  comma-separated 0x-hex private keys (first = deployer)
//   PYSEI_REMOTE_ACCOUNTS=1  use the node's unlocked accounts instead (Hardhat's `accounts: "remote"`: the node
//                        signs through eth_sendTransaction)
//
//   PYSEI_RPC_URL=... PYSEI_CHAIN_ID=... PYSEI_PRIVATE_KEYS=... npx hardhat test --network pysei
//
// Solidity sources are copied from ../../contracts at config load time, and the
// compiler is the npm `solc` package pinned in package-lock.json (no compiler
// download from the internet).
require("@nomicfoundation/hardhat-ethers");

const fs = require("fs");
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = require("solc/package.json").version;
const EVM_VERSION = process.env.SOLC_EVM_VERSION || "cancun";

// --- sources: copy the shared fixtures (only rewrite when the content changed)
const SHARED_SOURCES = path.resolve(__dirname, "..", "..", "contracts");
const LOCAL_SOURCES = path.join(__dirname, "contracts");
fs.mkdirSync(LOCAL_SOURCES, { recursive: true });
for (const f of ["Token.sol", "Reverter.sol"]) {
  const src = fs.readFileSync(path.join(SHARED_SOURCES, f), "utf8");
  const dst = path.join(LOCAL_SOURCES, f);
  if (!fs.existsSync(dst) || fs.readFileSync(dst, "utf8") !== src) fs.writeFileSync(dst, src);
}

// --- compiler: use solcjs from node_modules instead of downloading solc
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, _hre, runSuper) => {
  if (args.solcVersion === SOLC_VERSION) {
    const longVersion = require("solc").version().replace(/\.Emscripten\.clang$/, "");
    return {
      compilerPath: require.resolve("solc/soljson.js"),
      isSolcJs: true,
      version: SOLC_VERSION,
      longVersion,
    };
  }
  return runSuper();
});

// --- network
const keys = (process.env.PYSEI_PRIVATE_KEYS || "")
  .split(",")
  .map((k) => k.trim())
  .filter(Boolean)
  .map((k) => (k.startsWith("0x") ? k : "0x" + k));

module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { evmVersion: EVM_VERSION, optimizer: { enabled: true, runs: 200 } },
  },
  networks: {
    pysei: {
      url: process.env.PYSEI_RPC_URL || "http://127.0.0.1:8545",
      chainId: Number(process.env.PYSEI_CHAIN_ID || 713714),
      accounts: process.env.PYSEI_REMOTE_ACCOUNTS === "1" ? "remote" : keys,
      timeout: 60_000,
    },
  },
  mocha: { timeout: 120_000 },
};
