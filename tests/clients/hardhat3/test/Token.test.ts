// Hardhat 3 + hardhat-ethers (ethers v6) + node:test conformance test against an external node.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import { network } from "hardhat";

const EXPECTED_CHAIN_ID = BigInt(process.env.PYSEI_CHAIN_ID || 713714);

// `network.getOrCreate()` uses the network given with `--network` (pysei).
const { ethers, networkName } = await network.getOrCreate();
const INITIAL_SUPPLY = ethers.parseEther("500000");

// Find the raw revert bytes wherever the client put them.
function revertDataOf(err: any): string | undefined {
  for (let e = err; e; e = e.error ?? e.parent ?? e.cause ?? e.info?.error) {
    if (typeof e.data === "string" && e.data.startsWith("0x") && e.data.length >= 10) return e.data;
    if (e.data && typeof e.data.data === "string") return e.data.data;
  }
  return undefined;
}

function decodeRevert(data: string, iface: any): { name: string; args: unknown[] } {
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const body = "0x" + data.slice(10);
  if (data.startsWith("0x08c379a0")) return { name: "Error", args: [...coder.decode(["string"], body)] };
  if (data.startsWith("0x4e487b71")) return { name: "Panic", args: [...coder.decode(["uint256"], body)] };
  const parsed = iface.parseError(data);
  assert.ok(parsed, `cannot decode revert data ${data}`);
  return { name: parsed.name, args: [...parsed.args] };
}

async function expectRevert(p: Promise<unknown>, iface: any, name: string, args?: unknown[]) {
  let err: any;
  await p.then(
    () => assert.fail(`expected a revert ${name}`),
    (e) => {
      err = e;
    },
  );
  assert.match(String(err.message), /revert/i);
  const data = revertDataOf(err);
  assert.ok(data, `no revert data in error: ${err.message}`);
  const decoded = decodeRevert(data, iface);
  assert.equal(decoded.name, name);
  if (args !== undefined) assert.deepEqual(decoded.args, args);
}

describe("pysei conformance: Hardhat 3", () => {
  let deployer: any;
  let spender: any;
  let token: any;
  let reverter: any;
  let deployBlock: number;

  before(async () => {
    assert.equal(networkName, "pysei");
    assert.equal((await ethers.provider.getNetwork()).chainId, EXPECTED_CHAIN_ID);
    const signers = await ethers.getSigners();
    assert.ok(signers.length >= 2, "PYSEI_PRIVATE_KEYS must provide at least two keys");
    [deployer, spender] = signers;
    assert.ok((await ethers.provider.getBalance(deployer.address)) > ethers.parseEther("1"));
  });

  it("deploys the ERC-20 and mints the supply to the deployer", async () => {
    token = await ethers.deployContract("Token", ["Hardhat3 Token", "HH3", INITIAL_SUPPLY], deployer);
    await token.waitForDeployment();
    const receipt = await token.deploymentTransaction().wait();
    assert.equal(receipt.status, 1);
    deployBlock = receipt.blockNumber;
    const address = await token.getAddress();
    assert.equal(receipt.contractAddress, address);
    assert.ok((await ethers.provider.getCode(address)).length > 1000, "deployed code missing");
    assert.equal(await token.name(), "Hardhat3 Token");
    assert.equal(await token.symbol(), "HH3");
    assert.equal(await token.totalSupply(), INITIAL_SUPPLY);
    assert.equal(await token.balanceOf(deployer.address), INITIAL_SUPPLY);
  });

  it("transfers tokens, emits Transfer and finds it with eth_getLogs", async () => {
    const to = ethers.Wallet.createRandom().address;
    const amount = 777n;
    const tx = await token.transfer(to, amount);
    const receipt = await tx.wait();
    assert.equal(receipt.status, 1);
    const parsed = receipt.logs.map((l: any) => token.interface.parseLog(l)).filter(Boolean);
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0].name, "Transfer");
    assert.equal(parsed[0].args.from, deployer.address);
    assert.equal(parsed[0].args.to, to);
    assert.equal(parsed[0].args.value, amount);
    assert.equal(await token.balanceOf(to), amount);
    assert.equal(await token.balanceOf(deployer.address), INITIAL_SUPPLY - amount);

    const events = await token.queryFilter(token.filters.Transfer(null, to), deployBlock, "latest");
    assert.equal(events.length, 1);
    assert.equal(events[0].transactionHash, tx.hash);

    const block = await ethers.provider.getBlock(receipt.blockNumber);
    assert.equal(block.hash, receipt.blockHash);
    assert.ok(block.transactions.includes(tx.hash));
  });

  it("approves and transferFroms with a second signer", async () => {
    const to = ethers.Wallet.createRandom().address;
    await (await token.approve(spender.address, 1000n)).wait();
    assert.equal(await token.allowance(deployer.address, spender.address), 1000n);
    const r = await (await token.connect(spender).transferFrom(deployer.address, to, 600n)).wait();
    assert.equal(r.status, 1);
    assert.equal(await token.balanceOf(to), 600n);
    assert.equal(await token.allowance(deployer.address, spender.address), 400n);
    await expectRevert(
      token.connect(spender).transferFrom.staticCall(deployer.address, to, 401n),
      token.interface,
      "Error",
      ["ERC20: insufficient allowance"],
    );
  });

  it("surfaces require() reasons, custom errors and panics", async () => {
    const balance = await token.balanceOf(deployer.address);
    const insufficient = ["ERC20: insufficient balance"];
    await expectRevert(token.transfer.staticCall(deployer.address, balance + 1n), token.interface, "Error", insufficient);
    await expectRevert(token.transfer.estimateGas(deployer.address, balance + 1n), token.interface, "Error", insufficient);
    await expectRevert(token.transfer(deployer.address, balance + 1n), token.interface, "Error", insufficient);

    reverter = await ethers.deployContract("Reverter", [], deployer);
    await reverter.waitForDeployment();
    const iface = reverter.interface;
    await expectRevert(reverter.revertWithReason(), iface, "Error", ["Reverter: custom reason"]);
    await expectRevert(reverter.revertWithCustomError(), iface, "Unauthorized", [deployer.address, 42n]);
    await expectRevert(reverter.panicAssert(), iface, "Panic", [1n]);
  });

  it("mines a failing transaction (status 0) and recovers the reason by replaying it", async () => {
    const tx = await reverter.setValue(1000, { gasLimit: 200_000 });
    let receipt: any;
    try {
      receipt = await tx.wait();
    } catch (e: any) {
      assert.equal(e.code, "CALL_EXCEPTION");
      receipt = e.receipt;
    }
    assert.ok(receipt, "no receipt for the failed transaction");
    assert.equal(receipt.status, 0);
    assert.ok(receipt.gasUsed > 21_000n && receipt.gasUsed < 200_000n);
    assert.equal(receipt.logs.length, 0);
    assert.equal(await reverter.value(), 0n);
    const mined = await ethers.provider.getTransaction(tx.hash);
    await expectRevert(
      ethers.provider.call({ from: mined.from, to: mined.to, data: mined.data, gasLimit: mined.gasLimit, blockTag: receipt.blockNumber }),
      reverter.interface,
      "Error",
      ["Reverter: value too large"],
    );
    const ok = await (await reverter.setValue(9)).wait();
    assert.equal(ok.status, 1);
    assert.equal(await reverter.value(), 9n);
  });
});
