#!/usr/bin/env node
// The node's unlocked dev accounts through the clients' JSON-RPC signers: the node signs (eth_sendTransaction,
// eth_signTransaction), the client only names the sender. ethers' JsonRpcSigner, viem's JSON-RPC account and
// `cast send --unlocked` each send value to a lower-case address (what broke with eth-account 0.14), deploy the
// ERC-20 and call it.
//
//   node unlocked.mjs --http http://127.0.0.1:8545 --ws ws://127.0.0.1:8545 \
//        --chain-id 713714 --key 0x<a dev account's key> [--artifacts artifacts.json]
import { execFile } from "node:child_process";
import { Contract, ContractFactory, JsonRpcProvider, Transaction, Wallet, parseEther } from "ethers";
import { createPublicClient, createWalletClient, defineChain, http as httpTransport } from "viem";
import { castBinary } from "./lib/cast-bin.mjs";
import { check, checkEq, parseCommonArgs, runSteps, withTimeout } from "./lib/common.mjs";

const NAME = "unlocked";
const TIMEOUT = 60_000;
const SUPPLY = parseEther("1000");
const { http, chainId, key, artifacts } = await parseCommonArgs("unlocked.mjs");
const Token = artifacts.Token;
const from = new Wallet(key).address;
// Lower-case on purpose: what users paste, and what eth-account 0.14 refused when it was passed through.
const recipient = Wallet.createRandom().address.toLowerCase();

const provider = new JsonRpcProvider(http, chainId, { staticNetwork: true, pollingInterval: 200 });
const chain = defineChain({
  id: chainId,
  name: "pysei devnet",
  nativeCurrency: { name: "Sei", symbol: "SEI", decimals: 18 },
  rpcUrls: { default: { http: [http] } },
});
const pub = createPublicClient({ chain, transport: httpTransport(http), pollingInterval: 200 });
// `account` as a bare address: viem sends eth_sendTransaction and lets the node sign.
const wallet = createWalletClient({ account: from, chain, transport: httpTransport(http), pollingInterval: 200 });
// Balances are read with viem: ethers v6 answers an identical request made within 250 ms from its cache, and a
// 100 ms devnet mines the transfer inside that window. Receipts are awaited with viem too, at 200 ms polling to
// keep the run short; ethers' own tx.wait() at its default polling is the last step.
const receiptOf = (hash, what) =>
  withTimeout(pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT, pollingInterval: 200 }), TIMEOUT + 5000, what);

function cast(...args) {
  return new Promise((resolve, reject) => {
    execFile(castBinary(), [...args, "--rpc-url", http], { timeout: TIMEOUT }, (err, stdout, stderr) =>
      err ? reject(new Error(`cast ${args.join(" ")} failed: ${stderr || stdout || err}`)) : resolve(stdout.trim()),
    );
  });
}

const s = {};
const steps = [
  ["ethers JsonRpcSigner: value transfer to a lower-case address", async () => {
    const signer = await provider.getSigner(from);
    const before = await pub.getBalance({ address: recipient });
    const tx = await signer.sendTransaction({ to: recipient, value: 1000n });
    checkEq((await receiptOf(tx.hash, "ethers transfer")).status, "success", "transfer status");
    checkEq((await pub.getBalance({ address: recipient })) - before, 1000n, "recipient balance delta");
  }],
  ["ethers JsonRpcSigner: deploy the ERC-20, then call transfer", async () => {
    const signer = await provider.getSigner(from);
    const token = await new ContractFactory(Token.abi, Token.bytecode, signer).deploy("Unlocked", "UNL", SUPPLY);
    const deployed = await receiptOf(token.deploymentTransaction().hash, "ethers deployment");
    checkEq(deployed.status, "success", "deployment status");
    const call = await token.transfer(recipient, 5n);
    checkEq((await receiptOf(call.hash, "ethers transfer()")).status, "success", "transfer() status");
    checkEq(await token.balanceOf(recipient), 5n, "balanceOf(recipient)");
    s.token = await token.getAddress();
  }],
  ["eth_signTransaction signs for the sender with a lower-case to", async () => {
    const raw = await provider.send("eth_signTransaction", [{ from, to: recipient, value: "0x1", gas: "0x5208" }]);
    const tx = Transaction.from(raw);
    checkEq(tx.from, from, "recovered signer");
    checkEq(tx.to.toLowerCase(), recipient, "to");
    checkEq(tx.chainId, BigInt(chainId), "chain id");
  }],
  ["viem JSON-RPC account: value transfer, deploy, writeContract", async () => {
    const before = await pub.getBalance({ address: recipient });
    const r1 = await receiptOf(await wallet.sendTransaction({ to: recipient, value: 7n }), "viem transfer");
    checkEq(r1.status, "success", "transfer status");
    checkEq((await pub.getBalance({ address: recipient })) - before, 7n, "recipient balance delta");
    const deployed = await wallet.deployContract({ abi: Token.abi, bytecode: Token.bytecode, args: ["V", "V", SUPPLY] });
    const token = (await receiptOf(deployed, "viem deployment")).contractAddress;
    check(token, "no contract address");
    const call = await wallet.writeContract({ address: token, abi: Token.abi, functionName: "transfer", args: [recipient, 3n] });
    checkEq((await receiptOf(call, "viem transfer()")).status, "success", "transfer() status");
    const bal = await pub.readContract({ address: token, abi: Token.abi, functionName: "balanceOf", args: [recipient] });
    checkEq(bal, 3n, "balanceOf(recipient)");
  }],
  ["cast send --unlocked --from: value transfer and a contract call", async () => {
    const before = await pub.getBalance({ address: recipient });
    const out = JSON.parse(await cast("send", "--unlocked", "--from", from, recipient, "--value", "11", "--json"));
    checkEq(out.status, "0x1", "cast send status");
    checkEq((await pub.getBalance({ address: recipient })) - before, 11n, "recipient balance delta");
    const call = JSON.parse(
      await cast("send", "--unlocked", "--from", from, s.token.toLowerCase(), "transfer(address,uint256)", recipient, "2", "--json"),
    );
    checkEq(call.status, "0x1", "cast send transfer() status");
    const token = new Contract(s.token, Token.abi, provider);
    checkEq(await token.balanceOf(recipient), 7n, "balanceOf(recipient) after cast");
  }],
  ["ethers JsonRpcSigner with its default 4 s polling: tx.wait() resolves on a devnet that goes idle", async () => {
    // The node keeps cutting empty blocks for a while after the last transaction, so ethers sees the block
    // number move after its first poll even when the transaction's block came before it.
    const idle = new JsonRpcProvider(http, chainId, { staticNetwork: true });
    const signer = await idle.getSigner(from);
    for (const value of [21n, 22n]) {
      const tx = await signer.sendTransaction({ to: recipient, value });
      const receipt = await withTimeout(tx.wait(), 30_000, `tx.wait() of a ${value}-wei transfer`);
      checkEq(receipt.status, 1, "receipt status");
    }
    idle.destroy();
  }],
];

await runSteps(NAME, steps, async () => provider.destroy());
