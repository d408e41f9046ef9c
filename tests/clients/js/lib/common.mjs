// Shared helpers for the ethers / viem / cast conformance scripts.
import fs from "node:fs";
import { parseArgs } from "node:util";

export class CheckError extends Error {}

/** Assert `cond`; the message names the failed step. */
export function check(cond, message) {
  if (!cond) throw new CheckError(message);
}

export function checkEq(actual, expected, what) {
  const a = typeof actual === "string" ? actual.toLowerCase() : actual;
  const e = typeof expected === "string" ? expected.toLowerCase() : expected;
  if (a !== e) throw new CheckError(`${what}: expected ${fmt(expected)}, got ${fmt(actual)}`);
}

function fmt(v) {
  return typeof v === "bigint" ? `${v}n` : JSON.stringify(v);
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Await a promise that must reject; return the error. */
export async function mustFail(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new CheckError(`${what}: expected a failure, but it succeeded`);
}

/**
 * Parse the common command line:
 *   --http URL --ws URL --chain-id N --key 0x.. [--artifacts FILE]
 * with environment fallbacks PYSEI_RPC_URL, PYSEI_WS_URL, PYSEI_CHAIN_ID,
 * PYSEI_PRIVATE_KEY (or the first of PYSEI_PRIVATE_KEYS), PYSEI_ARTIFACTS.
 */
export async function parseCommonArgs(name) {
  const { values } = parseArgs({
    options: {
      http: { type: "string" },
      ws: { type: "string" },
      "chain-id": { type: "string" },
      key: { type: "string" },
      artifacts: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const usage =
    `usage: node ${name} --http URL --ws URL --chain-id N --key 0xPRIVKEY [--artifacts FILE]\n` +
    `  (env fallbacks: PYSEI_RPC_URL, PYSEI_WS_URL, PYSEI_CHAIN_ID, PYSEI_PRIVATE_KEY, PYSEI_ARTIFACTS)`;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const env = process.env;
  const http = values.http || env.PYSEI_RPC_URL;
  const ws = values.ws || env.PYSEI_WS_URL || (http ? http.replace(/^http/, "ws") : undefined);
  const chainId = values["chain-id"] || env.PYSEI_CHAIN_ID;
  let key = values.key || env.PYSEI_PRIVATE_KEY || (env.PYSEI_PRIVATE_KEYS || "").split(",")[0];
  if (!http || !ws || !chainId || !key) {
    console.error(usage);
    process.exit(2);
  }
  if (!key.startsWith("0x")) key = "0x" + key;
  const artifacts = await loadArtifacts(values.artifacts || env.PYSEI_ARTIFACTS);
  return { http, ws, chainId: Number(chainId), key, artifacts };
}

/** Read an artifact file from compile.mjs, or compile in-process when none is given. */
export async function loadArtifacts(file) {
  let data;
  if (file) {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } else {
    // Lazy: loading solc (soljson) costs ~0.6 s, only pay it when compiling.
    const { compileContracts } = await import("../compile.mjs");
    data = compileContracts();
  }
  for (const c of ["Token", "Reverter"]) check(data.contracts[c], `artifact ${c} missing`);
  return data.contracts;
}

/**
 * Run the named steps in order, printing one line per step; on the first
 * failure print the step and error, and exit 1. Always calls `cleanup`.
 */
export async function runSteps(name, steps, cleanup = async () => {}) {
  const t0 = Date.now();
  let current = "<setup>";
  let failed = false;
  try {
    for (const [label, fn] of steps) {
      current = label;
      const t = Date.now();
      await fn();
      console.log(`[${name}] ok   ${label} (${Date.now() - t} ms)`);
    }
  } catch (e) {
    failed = true;
    console.error(`[${name}] FAIL ${current}: ${e instanceof CheckError ? e.message : e && e.stack ? e.stack : e}`);
  } finally {
    try {
      await withTimeout(cleanup(), 10_000, "cleanup");
    } catch (e) {
      console.error(`[${name}] cleanup error: ${e}`);
    }
  }
  if (failed) process.exit(1);
  console.log(`[${name}] ALL CHECKS PASSED (${steps.length} steps, ${Date.now() - t0} ms)`);
  process.exit(0);
}
