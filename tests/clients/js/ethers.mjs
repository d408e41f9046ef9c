#!/usr/bin/env node
// ethers v6 conformance script against a pysei (or any EVM) JSON-RPC node.
//
//   node ethers.mjs --http http://127.0.0.1:8545 --ws ws://127.0.0.1:8545 \
//        --chain-id 713714 --key 0x... [--artifacts artifacts.json]
//
// Every step asserts its results; the process exits non-zero with a message
// naming the failed step on the first failure.
import {
  ContractFactory,
  Contract,
  JsonRpcProvider,
  Transaction,
  Wallet,
  WebSocketProvider,
  ZeroAddress,
  getAddress,
  keccak256,
  parseEther,
  zeroPadValue,
} from "ethers";
import { check, checkEq, mustFail, parseCommonArgs, runSteps, withTimeout } from "./lib/common.mjs";

const NAME = "ethers";
const TIMEOUT = 60_000;
const SUPPLY = parseEther("1000000");

const { http, ws, chainId, key, artifacts } = await parseCommonArgs("ethers.mjs");

// cacheTimeout -1: no 250 ms de-duplication of identical requests (balances are re-read right after txs);
// pollingInterval 250 ms instead of 4 s so that tx.wait() does not dominate the run time on interval-mined chains.
const provider = new JsonRpcProvider(http, chainId, { cacheTimeout: -1, pollingInterval: 250 });
const wallet = new Wallet(key, provider);
let wsProvider;
const s = {}; // state shared between steps

const wait = (tx, what) => withTimeout(tx.wait(), TIMEOUT, `receipt of ${what}`);

function revertName(err) {
  return err && err.revert ? err.revert.name : undefined;
}

const steps = [
  ["network / chain id / balance", async () => {
    const net = await provider.getNetwork();
    checkEq(net.chainId, BigInt(chainId), "getNetwork().chainId");
    s.startBlock = await provider.getBlockNumber();
    check(Number.isInteger(s.startBlock) && s.startBlock >= 0, `bad block number ${s.startBlock}`);
    const bal = await provider.getBalance(wallet.address);
    check(bal > parseEther("10"), `deployer ${wallet.address} balance too low: ${bal}`);
    const fee = await provider.getFeeData();
    check(fee.gasPrice !== null && fee.gasPrice > 0n, `getFeeData().gasPrice = ${fee.gasPrice}`);
    check(fee.maxFeePerGas !== null && fee.maxFeePerGas > 0n, `getFeeData().maxFeePerGas = ${fee.maxFeePerGas}`);
  }],

  ["value transfer to a fresh account (EIP-1559)", async () => {
    const fresh = Wallet.createRandom().connect(provider);
    s.fresh = fresh;
    const before = await provider.getBalance(wallet.address);
    const nonce = await provider.getTransactionCount(wallet.address, "latest");
    const value = parseEther("1");
    const tx = await wallet.sendTransaction({ to: fresh.address, value });
    const r = await wait(tx, "value transfer");
    checkEq(r.status, 1, "value transfer status");
    checkEq(r.gasUsed, 21000n, "value transfer gasUsed");
    checkEq(r.type, 2, "value transfer receipt type");
    checkEq(await provider.getBalance(fresh.address), value, "recipient balance");
    const after = await provider.getBalance(wallet.address);
    checkEq(before - after, value + r.gasUsed * r.gasPrice, "sender balance delta (value + gasUsed*effectiveGasPrice)");
    checkEq(await provider.getTransactionCount(wallet.address, "latest"), nonce + 1, "nonce after transfer");
    s.valueTx = tx.hash;
  }],

  ["legacy (type 0) transaction from the fresh account", async () => {
    const gasPrice = (await provider.getFeeData()).gasPrice;
    const tx = await s.fresh.sendTransaction({ to: wallet.address, value: 1000n, type: 0, gasPrice, gasLimit: 21000n });
    const r = await wait(tx, "legacy tx");
    checkEq(r.status, 1, "legacy tx status");
    checkEq(r.type, 0, "legacy receipt type");
    const got = await provider.getTransaction(tx.hash);
    checkEq(got.type, 0, "legacy tx type");
    checkEq(got.chainId, BigInt(chainId), "legacy tx chainId (EIP-155)");
    checkEq(got.from, s.fresh.address, "legacy tx from");
  }],

  ["deploy ERC-20", async () => {
    const { abi, bytecode, deployedBytecode } = artifacts.Token;
    const factory = new ContractFactory(abi, bytecode, wallet);
    const token = await factory.deploy("Ethers Token", "ETK", SUPPLY);
    const r = await wait(token.deploymentTransaction(), "deployment");
    checkEq(r.status, 1, "deploy status");
    s.token = token;
    s.tokenAddress = await token.getAddress();
    checkEq(r.contractAddress, s.tokenAddress, "receipt.contractAddress");
    s.deployBlock = r.blockNumber;
    checkEq(await provider.getCode(s.tokenAddress), deployedBytecode, "eth_getCode == deployedBytecode");
    checkEq(await token.name(), "Ethers Token", "name()");
    checkEq(await token.symbol(), "ETK", "symbol()");
    checkEq(await token.decimals(), 18n, "decimals()");
    checkEq(await token.totalSupply(), SUPPLY, "totalSupply()");
    checkEq(await token.balanceOf(wallet.address), SUPPLY, "balanceOf(deployer)");
    const mint = r.logs.map((l) => token.interface.parseLog(l)).filter(Boolean);
    check(mint.length === 1 && mint[0].name === "Transfer", "deployment receipt must contain the mint Transfer");
    checkEq(mint[0].args.from, ZeroAddress, "mint from");
    checkEq(mint[0].args.value, SUPPLY, "mint value");
  }],

  ["WebSocket provider: subscribe to Transfer logs and new blocks", async () => {
    wsProvider = new WebSocketProvider(ws, chainId);
    checkEq((await wsProvider.getNetwork()).chainId, BigInt(chainId), "ws chainId");
    s.recipient = Wallet.createRandom().address;
    const wsToken = new Contract(s.tokenAddress, artifacts.Token.abi, wsProvider);
    s.wsEvent = new Promise((resolve) => {
      // The last listener argument is the ContractEventPayload (decoded args + raw log).
      wsToken.on(wsToken.filters.Transfer(wallet.address, s.recipient), (...a) => {
        const ev = a[a.length - 1];
        resolve({ from: ev.args[0], to: ev.args[1], value: ev.args[2], log: ev.log });
      });
    });
    s.wsBlock = new Promise((resolve) => {
      wsProvider.on("block", (n) => resolve(n));
    });
    // Round-trip on the same socket so that both eth_subscribe requests have been handled.
    await wsProvider.send("eth_chainId", []);
    await new Promise((r) => setTimeout(r, 250));
  }],

  ["ERC-20 transfer + balances + receipt logs", async () => {
    const amount = 123_456n;
    const tx = await s.token.transfer(s.recipient, amount);
    const r = await wait(tx, "token transfer");
    checkEq(r.status, 1, "transfer status");
    s.transferReceipt = r;
    const parsed = r.logs.map((l) => s.token.interface.parseLog(l)).filter(Boolean);
    check(parsed.length === 1 && parsed[0].name === "Transfer", "transfer receipt must contain one Transfer log");
    checkEq(parsed[0].args.from, wallet.address, "Transfer.from");
    checkEq(parsed[0].args.to, s.recipient, "Transfer.to");
    checkEq(parsed[0].args.value, amount, "Transfer.value");
    checkEq(await s.token.balanceOf(s.recipient), amount, "recipient token balance");
    checkEq(await s.token.balanceOf(wallet.address), SUPPLY - amount, "sender token balance");
    s.amount = amount;
  }],

  ["WebSocket: Transfer log and block notifications received", async () => {
    const ev = await withTimeout(s.wsEvent, TIMEOUT, "Transfer event over eth_subscribe(logs)");
    checkEq(ev.from, wallet.address, "ws Transfer.from");
    checkEq(ev.to, s.recipient, "ws Transfer.to");
    checkEq(ev.value, s.amount, "ws Transfer.value");
    checkEq(ev.log.transactionHash, s.transferReceipt.hash, "ws log transactionHash");
    checkEq(ev.log.blockNumber, s.transferReceipt.blockNumber, "ws log blockNumber");
    const n = await withTimeout(s.wsBlock, TIMEOUT, "block over eth_subscribe(newHeads)");
    check(Number.isInteger(n) && n > s.startBlock, `ws block number ${n} must be > ${s.startBlock}`);
  }],

  ["eth_getLogs via queryFilter and provider.getLogs", async () => {
    const byFrom = await s.token.queryFilter(s.token.filters.Transfer(wallet.address), s.deployBlock, "latest");
    check(byFrom.length >= 1, "queryFilter(Transfer(from=deployer)) found nothing");
    const last = byFrom[byFrom.length - 1];
    checkEq(last.transactionHash, s.transferReceipt.hash, "queryFilter last transactionHash");
    checkEq(last.args.value, s.amount, "queryFilter last value");
    const all = await s.token.queryFilter("Transfer", s.deployBlock, "latest");
    checkEq(all.length, 2, "all Transfer logs since deployment (mint + transfer)");
    const raw = await provider.getLogs({
      address: s.tokenAddress,
      topics: [s.token.interface.getEvent("Transfer").topicHash, null, zeroPadValue(s.recipient, 32)],
      fromBlock: s.deployBlock,
      toBlock: "latest",
    });
    checkEq(raw.length, 1, "getLogs by indexed `to` topic");
    checkEq(raw[0].blockHash, s.transferReceipt.blockHash, "log blockHash");
    checkEq(raw[0].index, s.transferReceipt.logs[0].index, "log index");
    const none = await provider.getLogs({
      address: s.tokenAddress,
      topics: [s.token.interface.getEvent("Transfer").topicHash, null, zeroPadValue(Wallet.createRandom().address, 32)],
      fromBlock: s.deployBlock,
      toBlock: "latest",
    });
    checkEq(none.length, 0, "getLogs for an unrelated recipient");
  }],

  ["revert reasons from eth_call / eth_estimateGas", async () => {
    const tooMuch = SUPPLY + 1n;
    let e = await mustFail(s.token.transfer.staticCall(s.recipient, tooMuch), "staticCall transfer(too much)");
    checkEq(e.code, "CALL_EXCEPTION", "staticCall error code");
    checkEq(e.reason, "ERC20: insufficient balance", "staticCall revert reason");
    e = await mustFail(s.token.transfer.estimateGas(s.recipient, tooMuch), "estimateGas transfer(too much)");
    checkEq(e.reason, "ERC20: insufficient balance", "estimateGas revert reason");
    // Sending without a gas limit fails in estimation with the reason, before broadcasting.
    e = await mustFail(s.token.transfer(s.recipient, tooMuch), "send transfer(too much) without gas limit");
    checkEq(e.reason, "ERC20: insufficient balance", "send (estimate) revert reason");

    const { abi, bytecode } = artifacts.Reverter;
    const reverter = await new ContractFactory(abi, bytecode, wallet).deploy();
    await wait(reverter.deploymentTransaction(), "Reverter deployment");
    s.reverter = reverter;
    e = await mustFail(reverter.revertWithReason(), "revertWithReason()");
    checkEq(e.reason, "Reverter: custom reason", "revertWithReason reason");
    e = await mustFail(reverter.revertWithCustomError(), "revertWithCustomError()");
    checkEq(revertName(e), "Unauthorized", "custom error name");
    checkEq(e.revert.args[0], wallet.address, "custom error arg caller");
    checkEq(e.revert.args[1], 42n, "custom error arg code");
    e = await mustFail(reverter.panicAssert(), "panicAssert()");
    checkEq(revertName(e), "Panic", "panic name");
    checkEq(BigInt(e.revert.args[0]), 1n, "panic code");
  }],

  ["failed mined transaction (status 0) + reason by replay", async () => {
    const before = await s.reverter.value();
    const tx = await s.reverter.setValue(1000, { gasLimit: 200_000 });
    const e = await mustFail(wait(tx, "failing setValue"), "wait() on a reverted tx");
    checkEq(e.code, "CALL_EXCEPTION", "wait() error code");
    const r = e.receipt;
    check(r, "CALL_EXCEPTION from wait() must carry the receipt");
    checkEq(r.status, 0, "failed tx receipt status");
    check(r.gasUsed > 21000n && r.gasUsed < 200_000n, `failed tx gasUsed ${r.gasUsed}`);
    checkEq(r.logs.length, 0, "failed tx logs");
    checkEq(await s.reverter.value(), before, "state unchanged after revert");
    const mined = await provider.getTransaction(tx.hash);
    checkEq(mined.gasLimit, 200_000n, "mined gasLimit");
    const replay = await mustFail(
      provider.call({ from: mined.from, to: mined.to, data: mined.data, gasLimit: mined.gasLimit, blockTag: r.blockNumber }),
      "eth_call replay at the receipt block",
    );
    checkEq(replay.reason, "Reverter: value too large", "replayed revert reason");
    check(typeof replay.data === "string" && replay.data.startsWith("0x08c379a0"), `replay data ${replay.data}`);

    // Token transfer that fails on-chain: balances unchanged, nonce consumed.
    const nonce = await provider.getTransactionCount(wallet.address, "latest");
    const bal = await s.token.balanceOf(wallet.address);
    const tx2 = await s.token.transfer(s.recipient, bal + 1n, { gasLimit: 100_000 });
    const e2 = await mustFail(wait(tx2, "failing token transfer"), "wait() on failing token transfer");
    checkEq(e2.receipt && e2.receipt.status, 0, "failing token transfer status");
    checkEq(await s.token.balanceOf(wallet.address), bal, "token balance unchanged");
    checkEq(await provider.getTransactionCount(wallet.address, "latest"), nonce + 1, "nonce consumed by failed tx");
  }],

  ["block + transaction + receipt consistency", async () => {
    const r = s.transferReceipt;
    const block = await provider.getBlock(r.blockNumber, true);
    check(block, `getBlock(${r.blockNumber}) returned null`);
    checkEq(block.hash, r.blockHash, "block.hash == receipt.blockHash");
    checkEq(block.number, r.blockNumber, "block.number");
    check(block.transactions.includes(r.hash), "block.transactions must include the transfer");
    check(block.prefetchedTransactions.some((t) => t.hash === r.hash), "full block must include the tx object");
    check(block.baseFeePerGas !== null, "block.baseFeePerGas (EIP-1559) missing");
    check(block.gasUsed >= r.gasUsed, "block.gasUsed >= tx gasUsed");
    check(block.timestamp > 0, "block.timestamp");
    const byHash = await provider.getBlock(r.blockHash);
    checkEq(byHash.number, r.blockNumber, "getBlock(hash).number");
    if (block.number > 0) {
      const parent = await provider.getBlock(block.number - 1);
      checkEq(block.parentHash, parent.hash, "parentHash links to previous block");
      check(block.timestamp >= parent.timestamp, "timestamps non-decreasing");
    }
    const tx = await provider.getTransaction(r.hash);
    checkEq(tx.hash, r.hash, "tx hash");
    checkEq(tx.blockHash, r.blockHash, "tx blockHash");
    checkEq(tx.from, wallet.address, "tx from");
    checkEq(tx.to, s.tokenAddress, "tx to");
    checkEq(tx.chainId, BigInt(chainId), "tx chainId");
    // The node must return every signed field faithfully: re-serialise and re-hash.
    const reserialised = Transaction.from({
      type: tx.type, chainId: tx.chainId, nonce: tx.nonce, to: tx.to, value: tx.value, data: tx.data,
      gasLimit: tx.gasLimit, maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
      accessList: tx.accessList, signature: tx.signature,
    });
    checkEq(keccak256(reserialised.serialized), tx.hash, "keccak(serialized tx) == tx hash");
    checkEq(getAddress(reserialised.from), wallet.address, "signature recovers the sender");
    const rr = await provider.getTransactionReceipt(r.hash);
    checkEq(rr.status, 1, "receipt status");
    check(rr.cumulativeGasUsed >= rr.gasUsed, "cumulativeGasUsed >= gasUsed");
    check(rr.gasPrice > 0n, "receipt effectiveGasPrice");
    checkEq(rr.index, tx.index, "receipt transactionIndex == tx index");
    check(rr.logsBloom && rr.logsBloom !== "0x" + "0".repeat(512), "receipt logsBloom must be non-zero");
    check(await provider.getTransactionReceipt("0x" + "11".repeat(32)) === null, "unknown tx receipt must be null");
  }],
];

await runSteps(NAME, steps, async () => {
  if (wsProvider) await wsProvider.destroy();
  provider.destroy();
});
