#!/usr/bin/env node
// Foundry `cast` conformance script against a pysei (or any EVM) JSON-RPC node.
//
//   node cast.mjs --http http://127.0.0.1:8545 --ws ws://127.0.0.1:8545 \
//        --chain-id 713714 --key 0x... [--artifacts artifacts.json]
//
// Runs the cast CLI (from @foundry-rs/cast) as a user would: chain-id,
// client, balance, nonce, gas-price, send (value + contract creation + call),
// call (incl. revert reason), estimate, receipt, tx, block, logs, rpc.
//
// The cast binary is found by lib/cast-bin.mjs (not the npm wrapper, which always exits 0).
import { execFile } from "node:child_process";
import { castBinary } from "./lib/cast-bin.mjs";
import { check, checkEq, parseCommonArgs, runSteps } from "./lib/common.mjs";

const NAME = "cast";
const { http, chainId, key, artifacts } = await parseCommonArgs("cast.mjs");

const CAST = castBinary();

/** Run cast; returns {code, stdout, stderr}. */
function runCast(args, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(
      CAST,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, FOUNDRY_DISABLE_NIGHTLY_WARNING: "1", NO_COLOR: "1" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout: stdout.toString().trim(), stderr: stderr.toString().trim(), args });
      },
    );
  });
}

/** Run cast and require success; returns trimmed stdout. */
async function cast(...args) {
  const r = await runCast(args);
  if (r.code !== 0) {
    throw new Error(`cast ${args.join(" ")} failed (rc=${r.code}):\n${r.stderr || r.stdout}`);
  }
  return r.stdout;
}
const rpc = ["--rpc-url", http];
const castJson = async (...args) => JSON.parse(await cast(...args, "--json"));
/** cast prints numbers as "1000 [1e3]" for large values; keep the first token. */
const num = (out) => BigInt(out.split(/\s+/)[0]);
const unquote = (out) => out.replace(/^"(.*)"$/, "$1");

const s = {};
const DEAD = "0x000000000000000000000000000000000000dEaD";
const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

const steps = [
  ["chain-id / client / block-number / gas-price", async () => {
    checkEq(await cast("chain-id", ...rpc), String(chainId), "cast chain-id");
    const client = await cast("client", ...rpc);
    check(client.length > 0, "cast client (web3_clientVersion) returned nothing");
    s.startBlock = num(await cast("block-number", ...rpc));
    check(num(await cast("gas-price", ...rpc)) > 0n, "cast gas-price > 0");
    checkEq(await cast("rpc", ...rpc, "eth_chainId"), `"0x${chainId.toString(16)}"`, "cast rpc eth_chainId");
  }],

  ["wallet address / balance / nonce", async () => {
    s.me = await cast("wallet", "address", "--private-key", key);
    check(/^0x[0-9a-fA-F]{40}$/.test(s.me), `cast wallet address: ${s.me}`);
    const bal = num(await cast("balance", ...rpc, s.me));
    check(bal > 10n ** 19n, `balance of ${s.me} too low: ${bal}`);
    s.nonce = num(await cast("nonce", ...rpc, s.me));
  }],

  ["send a value transfer", async () => {
    const fresh = await cast("wallet", "new", "--json");
    s.fresh = JSON.parse(fresh)[0].address;
    const r = await castJson("send", ...rpc, "--private-key", key, s.fresh, "--value", "1ether");
    checkEq(r.status, "0x1", "value transfer status");
    checkEq(BigInt(r.gasUsed), 21000n, "value transfer gasUsed");
    s.valueTx = r.transactionHash;
    checkEq(num(await cast("balance", ...rpc, s.fresh)), 10n ** 18n, "recipient balance (wei)");
    checkEq(await cast("balance", ...rpc, "--ether", s.fresh), "1.000000000000000000", "recipient balance (--ether)");
    checkEq(num(await cast("nonce", ...rpc, s.me)), s.nonce + 1n, "nonce after send");
  }],

  ["deploy the ERC-20 with send --create", async () => {
    const r = await castJson(
      "send", ...rpc, "--private-key", key, "--create", artifacts.Token.bytecode,
      "constructor(string,string,uint256)", "Cast Token", "CTK", "1000000",
    );
    checkEq(r.status, "0x1", "deploy status");
    check(r.contractAddress, "deploy receipt has no contractAddress");
    s.token = r.contractAddress;
    checkEq(await cast("code", ...rpc, s.token), artifacts.Token.deployedBytecode, "cast code == deployedBytecode");
  }],

  ["call view functions", async () => {
    checkEq(unquote(await cast("call", ...rpc, s.token, "name()(string)")), "Cast Token", "name()");
    checkEq(unquote(await cast("call", ...rpc, s.token, "symbol()(string)")), "CTK", "symbol()");
    checkEq(num(await cast("call", ...rpc, s.token, "totalSupply()(uint256)")), 1000000n, "totalSupply()");
    checkEq(num(await cast("call", ...rpc, s.token, "balanceOf(address)(uint256)", s.me)), 1000000n, "balanceOf(me)");
  }],

  ["send a token transfer, read receipt / tx / block", async () => {
    const r = await castJson("send", ...rpc, "--private-key", key, s.token, "transfer(address,uint256)", DEAD, "250");
    checkEq(r.status, "0x1", "transfer status");
    checkEq(r.logs.length, 1, "transfer logs");
    checkEq(r.logs[0].topics[0], TRANSFER_TOPIC, "Transfer topic0");
    checkEq(BigInt(r.logs[0].data), 250n, "Transfer value (data)");
    s.transfer = r;
    checkEq(num(await cast("call", ...rpc, s.token, "balanceOf(address)(uint256)", DEAD)), 250n, "balanceOf(dead)");

    const receipt = await castJson("receipt", ...rpc, r.transactionHash);
    checkEq(receipt.transactionHash, r.transactionHash, "cast receipt hash");
    checkEq(receipt.status, "0x1", "cast receipt status");
    checkEq(receipt.blockHash, r.blockHash, "cast receipt blockHash");
    const st = await cast("receipt", ...rpc, r.transactionHash, "status");
    check(/^(true|1\b)/.test(st), `cast receipt <hash> status: ${st}`);

    const tx = await castJson("tx", ...rpc, r.transactionHash);
    checkEq(tx.hash, r.transactionHash, "cast tx hash");
    checkEq(tx.from, s.me, "cast tx from");
    checkEq(BigInt(tx.chainId), BigInt(chainId), "cast tx chainId");

    const block = await castJson("block", ...rpc, String(BigInt(r.blockNumber)));
    checkEq(block.hash, r.blockHash, "cast block hash");
    check(block.transactions.map((t) => (typeof t === "string" ? t : t.hash).toLowerCase()).includes(r.transactionHash.toLowerCase()),
      "cast block transactions include the transfer");
    checkEq(await cast("block", ...rpc, String(BigInt(r.blockNumber)), "--field", "hash"), r.blockHash, "cast block -f hash");
    const latest = num(await cast("block", ...rpc, "latest", "--field", "number"));
    check(latest >= BigInt(r.blockNumber), "latest block >= transfer block");
    checkEq(await cast("block", ...rpc, r.blockHash, "--field", "number"), String(BigInt(r.blockNumber)), "cast block <hash>");
  }],

  ["cast logs (eth_getLogs)", async () => {
    const logs = JSON.parse(await cast(
      "logs", ...rpc, "--json", "--from-block", String(BigInt(s.transfer.blockNumber) - 5n < 0n ? 0n : BigInt(s.transfer.blockNumber) - 5n),
      "--to-block", "latest", "--address", s.token, "Transfer(address indexed from,address indexed to,uint256 value)",
    ));
    check(logs.some((l) => l.transactionHash === s.transfer.transactionHash), "cast logs must include the transfer");
    const toDead = JSON.parse(await cast(
      "logs", ...rpc, "--json", "--from-block", "0", "--to-block", "latest", "--address", s.token,
      "Transfer(address indexed from,address indexed to,uint256 value)", s.me, DEAD,
    ));
    checkEq(toDead.length, 1, "cast logs filtered by indexed from/to");
  }],

  ["revert reasons: cast call / cast estimate / mined failure", async () => {
    let r = await runCast(["call", ...rpc, "--from", s.me, s.token, "transfer(address,uint256)", DEAD, "99999999"]);
    check(r.code !== 0, "cast call of a reverting transfer must fail");
    check(r.stderr.includes("ERC20: insufficient balance"), `cast call revert reason missing: ${r.stderr}`);
    r = await runCast(["estimate", ...rpc, "--from", s.me, s.token, "transfer(address,uint256)", DEAD, "99999999"]);
    check(r.code !== 0, "cast estimate of a reverting transfer must fail");
    check(r.stderr.includes("ERC20: insufficient balance"), `cast estimate revert reason missing: ${r.stderr}`);

    const failed = await castJson(
      "send", ...rpc, "--private-key", key, "--gas-limit", "100000", s.token, "transfer(address,uint256)", DEAD, "99999999",
    );
    checkEq(failed.status, "0x0", "mined failing transfer status");
    checkEq(failed.logs.length, 0, "failed tx logs");
    check(BigInt(failed.gasUsed) > 21000n && BigInt(failed.gasUsed) < 100000n, `failed gasUsed ${failed.gasUsed}`);
    const st = await cast("receipt", ...rpc, failed.transactionHash, "status");
    check(/^(false|0\b)/.test(st), `cast receipt status of failed tx: ${st}`);
    // Replay at the inclusion block to get the reason.
    r = await runCast(["call", ...rpc, "--block", String(BigInt(failed.blockNumber)), "--from", s.me, s.token,
      "transfer(address,uint256)", DEAD, "99999999"]);
    check(r.code !== 0 && r.stderr.includes("ERC20: insufficient balance"), `replayed reason missing: ${r.stderr}`);
    checkEq(num(await cast("call", ...rpc, s.token, "balanceOf(address)(uint256)", DEAD)), 250n, "balance unchanged after failure");
  }],
];

await runSteps(NAME, steps);
