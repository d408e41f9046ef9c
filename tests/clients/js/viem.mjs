#!/usr/bin/env node
// viem conformance script against a pysei (or any EVM) JSON-RPC node.
//
//   node viem.mjs --http http://127.0.0.1:8545 --ws ws://127.0.0.1:8545 \
//        --chain-id 713714 --key 0x... [--artifacts artifacts.json]
//
// Every step asserts its results; the process exits non-zero with a message
// naming the failed step on the first failure.
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http as httpTransport,
  keccak256,
  parseEther,
  parseEventLogs,
  recoverTransactionAddress,
  serializeTransaction,
  webSocket,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { check, checkEq, mustFail, parseCommonArgs, runSteps, withTimeout } from "./lib/common.mjs";

const NAME = "viem";
const TIMEOUT = 60_000;
const SUPPLY = parseEther("1000000");
const POLL = 200; // ms; viem's default polling interval (4 s) would only slow the suite down

const { http, ws, chainId, key, artifacts } = await parseCommonArgs("viem.mjs");
const Token = artifacts.Token;
const Reverter = artifacts.Reverter;

const chain = defineChain({
  id: chainId,
  name: "pysei devnet",
  nativeCurrency: { name: "Sei", symbol: "SEI", decimals: 18 },
  rpcUrls: { default: { http: [http], webSocket: [ws] } },
});
const account = privateKeyToAccount(key);
const pub = createPublicClient({ chain, transport: httpTransport(http, { timeout: 30_000 }), pollingInterval: POLL });
const wsClient = createPublicClient({ chain, transport: webSocket(ws, { timeout: 30_000 }), pollingInterval: POLL });
const wallet = createWalletClient({ account, chain, transport: httpTransport(http), pollingInterval: POLL });
const s = {};
const unwatchers = [];

const receiptOf = (hash, what) =>
  withTimeout(pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT, pollingInterval: POLL }), TIMEOUT + 5000, what);

/** Find the decoded contract revert inside a viem error chain. */
function revertOf(err) {
  check(err instanceof BaseError, `expected a viem BaseError, got ${err}`);
  const r = err.walk((e) => e instanceof ContractFunctionRevertedError);
  check(r instanceof ContractFunctionRevertedError, `no ContractFunctionRevertedError in: ${err.shortMessage || err.message}`);
  return r;
}

const steps = [
  ["eth_call with stateOverride and blockOverrides", async () => {
    const target = "0x00000000000000000000000000000000000000aa";
    const ret = (op) => `0x${op}60005260206000f3`; // the opcode's result, MSTOREd and returned
    const bal = await pub.call({ to: target, stateOverride: [{ address: target, balance: 12345n, code: ret("47") }] });
    checkEq(BigInt(bal.data), 12345n, "SELFBALANCE under balance and code overrides");
    const slot = `0x${"00".repeat(31)}07`;
    const diff = await pub.call({
      to: target,
      data: slot,
      stateOverride: [{ address: target, code: "0x6000355460005260206000f3", stateDiff: [{ slot, value: `0x${"00".repeat(31)}2a` }] }],
    });
    checkEq(BigInt(diff.data), 42n, "SLOAD under a stateDiff override");
    const time = await pub.call({ to: target, stateOverride: [{ address: target, code: ret("42") }], blockOverrides: { time: 4102444800n } });
    checkEq(BigInt(time.data), 4102444800n, "TIMESTAMP under a block override");
    checkEq(await pub.getCode({ address: target }), undefined, "overrides are not written");
  }],

  ["chain id / block number / balance / fees", async () => {
    checkEq(await pub.getChainId(), chainId, "getChainId");
    s.startBlock = await pub.getBlockNumber({ cacheTime: 0 });
    check(typeof s.startBlock === "bigint" && s.startBlock >= 0n, "getBlockNumber");
    const bal = await pub.getBalance({ address: account.address });
    check(bal > parseEther("10"), `account ${account.address} balance too low: ${bal}`);
    check((await pub.getGasPrice()) > 0n, "getGasPrice > 0");
    const fees = await pub.estimateFeesPerGas();
    check(fees.maxFeePerGas > 0n && fees.maxPriorityFeePerGas >= 0n, `estimateFeesPerGas ${JSON.stringify(fees, (k, v) => String(v))}`);
  }],

  ["value transfer to a fresh account (EIP-1559)", async () => {
    const fresh = privateKeyToAccount(generatePrivateKey());
    s.fresh = fresh;
    const before = await pub.getBalance({ address: account.address });
    const value = parseEther("1");
    const hash = await wallet.sendTransaction({ to: fresh.address, value });
    const r = await receiptOf(hash, "value transfer");
    checkEq(r.status, "success", "value transfer status");
    checkEq(r.type, "eip1559", "receipt type");
    checkEq(r.gasUsed, 21000n, "gasUsed");
    checkEq(await pub.getBalance({ address: fresh.address }), value, "recipient balance");
    const after = await pub.getBalance({ address: account.address });
    checkEq(before - after, value + r.gasUsed * r.effectiveGasPrice, "sender delta = value + gasUsed*effectiveGasPrice");
  }],

  ["EIP-2930 (access list) transaction from the fresh account", async () => {
    const freshWallet = createWalletClient({ account: s.fresh, chain, transport: httpTransport(http) });
    const gasPrice = await pub.getGasPrice();
    const hash = await freshWallet.sendTransaction({
      type: "eip2930",
      to: account.address,
      value: 1000n,
      gasPrice,
      accessList: [{ address: account.address, storageKeys: ["0x" + "00".repeat(32)] }],
    });
    const r = await receiptOf(hash, "eip2930 tx");
    checkEq(r.status, "success", "eip2930 status");
    checkEq(r.type, "eip2930", "eip2930 receipt type");
    const tx = await pub.getTransaction({ hash });
    checkEq(tx.type, "eip2930", "eip2930 tx type");
    checkEq(tx.accessList.length, 1, "accessList length");
    checkEq(tx.accessList[0].storageKeys.length, 1, "accessList storage keys");
  }],

  ["deploy ERC-20", async () => {
    const hash = await wallet.deployContract({ abi: Token.abi, bytecode: Token.bytecode, args: ["Viem Token", "VTK", SUPPLY] });
    const r = await receiptOf(hash, "deployment");
    checkEq(r.status, "success", "deploy status");
    check(r.contractAddress, "receipt.contractAddress missing");
    s.token = r.contractAddress;
    s.deployBlock = r.blockNumber;
    checkEq(await pub.getCode({ address: s.token }), Token.deployedBytecode, "getCode == deployedBytecode");
    const read = (functionName, args = []) => pub.readContract({ address: s.token, abi: Token.abi, functionName, args });
    checkEq(await read("name"), "Viem Token", "name()");
    checkEq(await read("symbol"), "VTK", "symbol()");
    checkEq(await read("decimals"), 18, "decimals()");
    checkEq(await read("totalSupply"), SUPPLY, "totalSupply()");
    checkEq(await read("balanceOf", [account.address]), SUPPLY, "balanceOf(deployer)");
    const mint = parseEventLogs({ abi: Token.abi, logs: r.logs, eventName: "Transfer" });
    checkEq(mint.length, 1, "mint Transfer count");
    checkEq(mint[0].args.from, zeroAddress, "mint from");
    checkEq(mint[0].args.value, SUPPLY, "mint value");
  }],

  ["watchers: WebSocket eth_subscribe(logs/newHeads) + HTTP filter polling", async () => {
    s.recipient = privateKeyToAccount(generatePrivateKey()).address;
    const onError = (what) => (e) => console.error(`[${NAME}] watcher error (${what}): ${e.shortMessage || e.message}`);
    s.wsLogs = new Promise((resolve) => {
      unwatchers.push(wsClient.watchContractEvent({
        address: s.token, abi: Token.abi, eventName: "Transfer", args: { to: s.recipient },
        onLogs: (logs) => resolve(logs), onError: onError("ws logs"),
      }));
    });
    s.wsBlock = new Promise((resolve) => {
      unwatchers.push(wsClient.watchBlockNumber({ onBlockNumber: (n) => { if (n > s.startBlock) resolve(n); }, onError: onError("ws blocks") }));
    });
    // HTTP transport: viem polls with eth_newFilter + eth_getFilterChanges.
    s.httpLogs = new Promise((resolve) => {
      unwatchers.push(pub.watchContractEvent({
        address: s.token, abi: Token.abi, eventName: "Transfer", args: { to: s.recipient },
        onLogs: (logs) => resolve(logs), onError: onError("http logs"), pollingInterval: POLL,
      }));
    });
    // Round-trip on the socket, then give the HTTP watcher time to install its filter.
    await wsClient.request({ method: "eth_blockNumber" });
    await new Promise((r) => setTimeout(r, 3 * POLL));
  }],

  ["ERC-20 transfer + balances + receipt logs", async () => {
    s.amount = 424_242n;
    const hash = await wallet.writeContract({ address: s.token, abi: Token.abi, functionName: "transfer", args: [s.recipient, s.amount] });
    const r = await receiptOf(hash, "token transfer");
    checkEq(r.status, "success", "transfer status");
    s.transfer = r;
    const logs = parseEventLogs({ abi: Token.abi, logs: r.logs, eventName: "Transfer" });
    checkEq(logs.length, 1, "Transfer logs in receipt");
    checkEq(logs[0].args.from, account.address, "Transfer.from");
    checkEq(logs[0].args.to, s.recipient, "Transfer.to");
    checkEq(logs[0].args.value, s.amount, "Transfer.value");
    const bal = (a) => pub.readContract({ address: s.token, abi: Token.abi, functionName: "balanceOf", args: [a] });
    checkEq(await bal(s.recipient), s.amount, "recipient balance");
    checkEq(await bal(account.address), SUPPLY - s.amount, "sender balance");
  }],

  ["watchers delivered the Transfer log and a new block", async () => {
    for (const [what, p] of [["WebSocket", s.wsLogs], ["HTTP filter", s.httpLogs]]) {
      const logs = await withTimeout(p, TIMEOUT, `Transfer log via ${what} watcher`);
      checkEq(logs.length, 1, `${what}: log count`);
      checkEq(logs[0].transactionHash, s.transfer.transactionHash, `${what}: transactionHash`);
      checkEq(logs[0].args.value, s.amount, `${what}: value`);
      checkEq(logs[0].args.to, s.recipient, `${what}: to`);
    }
    const n = await withTimeout(s.wsBlock, TIMEOUT, "block number via WebSocket newHeads");
    check(n > s.startBlock, `ws block ${n} > ${s.startBlock}`);
  }],

  ["eth_getLogs (getContractEvents / getLogs) + eth_newFilter/eth_getFilterLogs", async () => {
    const all = await pub.getContractEvents({ address: s.token, abi: Token.abi, eventName: "Transfer", fromBlock: s.deployBlock, toBlock: "latest" });
    checkEq(all.length, 2, "Transfer events since deployment (mint + transfer)");
    const byTo = await pub.getContractEvents({ address: s.token, abi: Token.abi, eventName: "Transfer", args: { to: s.recipient }, fromBlock: s.deployBlock });
    checkEq(byTo.length, 1, "Transfer events filtered by indexed `to`");
    checkEq(byTo[0].blockHash, s.transfer.blockHash, "log blockHash");
    checkEq(byTo[0].logIndex, s.transfer.logs[0].logIndex, "logIndex");
    const event = Token.abi.find((x) => x.type === "event" && x.name === "Transfer");
    const exact = await pub.getLogs({ address: s.token, event, args: { from: account.address }, fromBlock: s.transfer.blockNumber, toBlock: s.transfer.blockNumber });
    checkEq(exact.length, 1, "getLogs at the transfer block");
    const byHash = await pub.getLogs({ address: s.token, event, blockHash: s.transfer.blockHash });
    checkEq(byHash.length, 1, "getLogs by blockHash");
    const filter = await pub.createContractEventFilter({ address: s.token, abi: Token.abi, eventName: "Transfer", fromBlock: s.deployBlock });
    const fl = await pub.getFilterLogs({ filter });
    checkEq(fl.length, 2, "eth_getFilterLogs count");
    check(await pub.uninstallFilter({ filter }), "eth_uninstallFilter returned false");
  }],

  ["revert reasons from eth_call / eth_estimateGas", async () => {
    const tooMuch = SUPPLY + 1n;
    const tcall = { account, address: s.token, abi: Token.abi, functionName: "transfer", args: [s.recipient, tooMuch] };
    let r = revertOf(await mustFail(pub.simulateContract(tcall), "simulateContract transfer(too much)"));
    checkEq(r.reason, "ERC20: insufficient balance", "simulate reason");
    r = revertOf(await mustFail(pub.estimateContractGas(tcall), "estimateContractGas transfer(too much)"));
    checkEq(r.reason, "ERC20: insufficient balance", "estimateGas reason");
    r = revertOf(await mustFail(wallet.writeContract(tcall), "writeContract without gas (estimation fails)"));
    checkEq(r.reason, "ERC20: insufficient balance", "writeContract reason");

    const hash = await wallet.deployContract({ abi: Reverter.abi, bytecode: Reverter.bytecode });
    s.reverter = (await receiptOf(hash, "Reverter deployment")).contractAddress;
    const rc = (functionName, args = []) => pub.readContract({ account, address: s.reverter, abi: Reverter.abi, functionName, args });
    r = revertOf(await mustFail(rc("revertWithReason"), "revertWithReason"));
    checkEq(r.reason, "Reverter: custom reason", "revertWithReason reason");
    r = revertOf(await mustFail(rc("revertWithCustomError"), "revertWithCustomError"));
    checkEq(r.data && r.data.errorName, "Unauthorized", "custom error name");
    checkEq(r.data.args[0], account.address, "custom error caller");
    checkEq(r.data.args[1], 42n, "custom error code");
    r = revertOf(await mustFail(rc("panicAssert"), "panicAssert"));
    checkEq(r.data && r.data.errorName, "Panic", "panic error name");
    checkEq(BigInt(r.data.args[0]), 1n, "panic code");
  }],

  ["failed mined transaction (status 0) + reason by replay", async () => {
    const call = { address: s.reverter, abi: Reverter.abi, functionName: "setValue", args: [1000n] };
    const hash = await wallet.writeContract({ ...call, gas: 200_000n });
    const r = await receiptOf(hash, "failing setValue");
    checkEq(r.status, "reverted", "failed tx status");
    check(r.gasUsed > 21000n && r.gasUsed < 200_000n, `failed tx gasUsed ${r.gasUsed}`);
    checkEq(r.logs.length, 0, "failed tx logs");
    const tx = await pub.getTransaction({ hash });
    checkEq(tx.gas, 200_000n, "mined gas limit");
    const replay = revertOf(await mustFail(
      pub.simulateContract({ ...call, account, gas: tx.gas, blockNumber: r.blockNumber }),
      "simulateContract replay at the receipt block",
    ));
    checkEq(replay.reason, "Reverter: value too large", "replayed reason");
    checkEq(await pub.readContract({ address: s.reverter, abi: Reverter.abi, functionName: "value" }), 0n, "state unchanged");
    // Custom error on-chain.
    const h2 = await wallet.writeContract({ address: s.reverter, abi: Reverter.abi, functionName: "setValueCustomError", args: [9n], gas: 200_000n });
    const r2 = await receiptOf(h2, "failing setValueCustomError");
    checkEq(r2.status, "reverted", "custom-error tx status");
    const replay2 = revertOf(await mustFail(
      pub.simulateContract({ address: s.reverter, abi: Reverter.abi, functionName: "setValueCustomError", args: [9n], account, blockNumber: r2.blockNumber }),
      "custom error replay",
    ));
    checkEq(replay2.data && replay2.data.errorName, "Unauthorized", "replayed custom error");
    checkEq(replay2.data.args[1], 9n, "replayed custom error code");
  }],

  ["block + transaction + receipt consistency", async () => {
    const r = s.transfer;
    const block = await pub.getBlock({ blockNumber: r.blockNumber, includeTransactions: true });
    checkEq(block.hash, r.blockHash, "block.hash");
    checkEq(block.number, r.blockNumber, "block.number");
    check(block.transactions.some((t) => t.hash === r.transactionHash), "block includes the transfer tx");
    check(block.baseFeePerGas !== null && block.baseFeePerGas !== undefined, "baseFeePerGas missing");
    check(block.gasUsed >= r.gasUsed, "block.gasUsed >= tx gasUsed");
    checkEq((await pub.getBlock({ blockHash: r.blockHash })).number, r.blockNumber, "getBlock(hash)");
    const parent = await pub.getBlock({ blockNumber: r.blockNumber - 1n });
    checkEq(block.parentHash, parent.hash, "parentHash");
    check(block.timestamp >= parent.timestamp, "timestamps non-decreasing");
    checkEq(await pub.getBlockTransactionCount({ blockNumber: r.blockNumber }), block.transactions.length, "getBlockTransactionCount");
    const tx = await pub.getTransaction({ hash: r.transactionHash });
    checkEq(tx.from, account.address, "tx.from");
    checkEq(tx.to, s.token, "tx.to");
    checkEq(tx.chainId, chainId, "tx.chainId");
    checkEq(tx.blockHash, r.blockHash, "tx.blockHash");
    const same = await pub.getTransaction({ blockNumber: r.blockNumber, index: r.transactionIndex });
    checkEq(same.hash, tx.hash, "getTransaction by block number + index");
    const serialized = serializeTransaction(
      { type: tx.type, chainId: tx.chainId, nonce: tx.nonce, to: tx.to, value: tx.value, data: tx.input, gas: tx.gas,
        maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas, accessList: tx.accessList },
      { r: tx.r, s: tx.s, yParity: tx.yParity },
    );
    checkEq(keccak256(serialized), tx.hash, "keccak(serialized tx) == hash");
    checkEq(await recoverTransactionAddress({ serializedTransaction: serialized }), account.address, "recovered sender");
    const rr = await pub.getTransactionReceipt({ hash: r.transactionHash });
    checkEq(rr.status, "success", "receipt status");
    check(rr.cumulativeGasUsed >= rr.gasUsed, "cumulativeGasUsed >= gasUsed");
    check(rr.effectiveGasPrice > 0n, "effectiveGasPrice");
    checkEq(rr.from, account.address, "receipt.from");
    checkEq(rr.to, s.token, "receipt.to");
    const nonceNow = await pub.getTransactionCount({ address: account.address });
    check(nonceNow > tx.nonce, `account nonce ${nonceNow} must be > transfer nonce ${tx.nonce}`);
    const pending = await pub.getTransactionCount({ address: account.address, blockTag: "pending" });
    checkEq(pending, nonceNow, "pending nonce with no pending txs");
  }],
];

await runSteps(NAME, steps, async () => {
  for (const u of unwatchers) u();
  await (await wsClient.transport.getRpcClient()).close();
});
