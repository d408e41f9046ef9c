// Hardhat 2 configuration for `pysei bench e2e`: the built-in Hardhat Network served by `hardhat node`, with
// the settings the benchmark compares against pysei (same chain id, same dev mnemonic and balances, automine).
//
//   PYSEI_BENCH_CHAIN_ID   chain id (default 713714, pysei's)
//   PYSEI_BENCH_INTERVAL   milliseconds between blocks; unset or 0 = automine (one block per transaction)
//
//   node_modules/.bin/hardhat --config hardhat.bench-node.config.js node --hostname 127.0.0.1 --port 8545
//
// No sources are compiled: the benchmark deploys its own pre-compiled contracts over JSON-RPC.
const path = require("path");

const interval = Number(process.env.PYSEI_BENCH_INTERVAL || 0);

module.exports = {
  solidity: require("solc/package.json").version,
  paths: {
    sources: path.join(__dirname, "bench-node", "sources"),
    cache: path.join(__dirname, "bench-node", "cache"),
    artifacts: path.join(__dirname, "bench-node", "artifacts"),
  },
  networks: {
    hardhat: {
      chainId: Number(process.env.PYSEI_BENCH_CHAIN_ID || 713714),
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 20,
        accountsBalance: "10000000000000000000000",
      },
      mining: interval > 0 ? { auto: false, interval } : { auto: true },
    },
  },
};
