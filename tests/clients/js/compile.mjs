#!/usr/bin/env node
// Compile the Solidity fixtures in tests/contracts/ with the pinned npm `solc`
// package and write a JSON artifact file:
//
//   node compile.mjs OUT.json [--evm-version cancun] [--contracts-dir DIR]
//
// Output format:
//   {
//     "compiler": {"version": "0.8.30+commit...", "evmVersion": "cancun", "optimizer": {...}},
//     "contracts": {
//       "Token": {"sourceName": "Token.sol", "abi": [...], "bytecode": "0x...", "deployedBytecode": "0x..."},
//       ...
//     },
//     "interfaces": {"IStaking": {"sourceName": "StakingUser.sol", "abi": [...]}, ...}
//   }
//
// The environment variable SOLC_EVM_VERSION overrides the default EVM version.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import solc from "solc";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CONTRACTS_DIR = path.resolve(HERE, "..", "..", "contracts");
export const DEFAULT_EVM_VERSION = process.env.SOLC_EVM_VERSION || "cancun";

export function compileContracts({
  contractsDir = DEFAULT_CONTRACTS_DIR,
  evmVersion = DEFAULT_EVM_VERSION,
} = {}) {
  const files = fs
    .readdirSync(contractsDir)
    .filter((f) => f.endsWith(".sol"))
    .sort();
  if (files.length === 0) {
    throw new Error(`no .sol files found in ${contractsDir}`);
  }
  const sources = {};
  for (const f of files) {
    sources[f] = { content: fs.readFileSync(path.join(contractsDir, f), "utf8") };
  }
  const optimizer = { enabled: true, runs: 200 };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion,
      optimizer,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error(
      "solc compilation failed:\n" + errors.map((e) => e.formattedMessage || e.message).join("\n"),
    );
  }
  const contracts = {};
  // Interfaces have an ABI but no bytecode: tests call precompiles through them (e.g. Sei's IStaking).
  const interfaces = {};
  for (const [sourceName, perSource] of Object.entries(output.contracts || {})) {
    for (const [name, c] of Object.entries(perSource)) {
      if (contracts[name]) {
        throw new Error(`duplicate contract name ${name} (${sourceName})`);
      }
      const bytecode = c.evm.bytecode.object;
      if (!bytecode) {
        interfaces[name] = { sourceName, abi: c.abi }; // interfaces / abstract contracts
        continue;
      }
      contracts[name] = {
        sourceName,
        abi: c.abi,
        bytecode: "0x" + bytecode,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      };
    }
  }
  // The test fixtures must all be there; other directories (e.g. the benchmark contracts) have their own set.
  for (const required of contractsDir === DEFAULT_CONTRACTS_DIR ? ["Token", "Reverter"] : []) {
    if (!contracts[required]) throw new Error(`contract ${required} missing from solc output`);
  }
  return { compiler: { version: solc.version(), evmVersion, optimizer }, contracts, interfaces };
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "evm-version": { type: "string" },
      "contracts-dir": { type: "string" },
    },
  });
  if (positionals.length !== 1) {
    console.error("usage: node compile.mjs OUT.json [--evm-version cancun] [--contracts-dir DIR]");
    process.exit(2);
  }
  const out = path.resolve(positionals[0]);
  const result = compileContracts({
    contractsDir: values["contracts-dir"] ? path.resolve(values["contracts-dir"]) : undefined,
    evmVersion: values["evm-version"],
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(result, null, 1));
  fs.renameSync(tmp, out); // atomic: readers never see a partial file
  console.log(
    `compiled ${Object.keys(result.contracts).join(", ")} with solc ${result.compiler.version} ` +
      `(evm ${result.compiler.evmVersion}) -> ${out}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    main();
  } catch (e) {
    console.error(`compile.mjs: ${e.stack || e}`);
    process.exit(1);
  }
}
