// Hardhat 3's network helpers (@nomicfoundation/hardhat-network-helpers) against an external pysei devnet:
// snapshots (takeSnapshot/restore, loadFixture), time.increase/increaseTo, mine, impersonation, setBalance,
// setCode, setNonce, setStorageAt. Kept apart from test/ (the conformance suite) because it edits the chain;
// tests/test_dev_methods.py runs it against a fresh node of its own.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { network } from "hardhat";

const { ethers, networkHelpers } = await network.getOrCreate();
const { time } = networkHelpers;

// Not a dev account: nobody holds its key.
const WHALE = "0x00000000000000000000000000000000000be11e";

async function deployToken() {
  const [deployer] = await ethers.getSigners();
  const token = await ethers.deployContract("Token", ["Dev", "DEV", ethers.parseEther("1000")], deployer);
  await token.waitForDeployment();
  return { token, deployer };
}

describe("hardhat-network-helpers against pysei", () => {
  it("passes the helpers' development-network gate", async () => {
    const version: string = await ethers.provider.send("web3_clientVersion", []);
    assert.match(version.toLowerCase(), /^anvil/);
    assert.match(version, /pysei/);
  });

  it("takeSnapshot/restore undoes blocks, balances and contract state, and can restore again", async () => {
    const { token, deployer } = await deployToken();
    const [, other] = await ethers.getSigners();
    const snapshot = await networkHelpers.takeSnapshot();
    const blockBefore = await ethers.provider.getBlockNumber();
    const balanceBefore = await ethers.provider.getBalance(other.address);

    await (await token.transfer(other.address, 5n)).wait();
    await (await deployer.sendTransaction({ to: other.address, value: 7n })).wait();
    await networkHelpers.mine(3);
    assert.equal(await token.balanceOf(other.address), 5n);
    assert.ok((await ethers.provider.getBlockNumber()) >= blockBefore + 5);

    await snapshot.restore();
    assert.equal(await ethers.provider.getBlockNumber(), blockBefore);
    assert.equal(await token.balanceOf(other.address), 0n);
    assert.equal(await ethers.provider.getBalance(other.address), balanceBefore);

    // The helper re-took the snapshot: restoring twice works, and the chain goes on from there.
    await (await token.transfer(other.address, 9n)).wait();
    await snapshot.restore();
    assert.equal(await token.balanceOf(other.address), 0n);
    await (await token.transfer(other.address, 1n)).wait();
    assert.equal(await token.balanceOf(other.address), 1n);
  });

  it("loadFixture deploys once and reverts to the fixture for each use", async () => {
    const first = await networkHelpers.loadFixture(deployToken);
    const [, other] = await ethers.getSigners();
    await (await first.token.transfer(other.address, 3n)).wait();
    const second = await networkHelpers.loadFixture(deployToken);
    assert.equal(await second.token.getAddress(), await first.token.getAddress());
    assert.equal(await second.token.balanceOf(other.address), 0n);
  });

  it("time.increase and time.increaseTo move block timestamps", async () => {
    const start = await time.latest();
    const after = await time.increase(3600);
    assert.equal(after, start + 3600);
    assert.equal((await ethers.provider.getBlock("latest"))!.timestamp, start + 3600);
    await time.increaseTo(start + 7200);
    assert.equal(await time.latest(), start + 7200);
    // Later blocks continue from the moved clock, never from the wall clock.
    await networkHelpers.mine();
    assert.ok((await time.latest()) >= start + 7200);
  });

  it("mine(n, interval) makes n blocks spaced by the interval", async () => {
    const startBlock = await time.latestBlock();
    const startTime = await time.latest();
    await networkHelpers.mine(5, { interval: 60 });
    assert.equal(await time.latestBlock(), startBlock + 5);
    const last = await time.latest();
    assert.ok(last >= startTime + 4 * 60, `timestamps ${startTime} → ${last}`);
    await networkHelpers.mineUpTo(startBlock + 8);
    assert.equal(await time.latestBlock(), startBlock + 8);
  });

  it("setBalance, then an impersonated account sends without its key", async () => {
    await networkHelpers.setBalance(WHALE, ethers.parseEther("100"));
    assert.equal(await ethers.provider.getBalance(WHALE), ethers.parseEther("100"));
    await networkHelpers.impersonateAccount(WHALE);
    // Impersonated accounts send through the node, so through a network whose accounts are the node's.
    const remote = await network.getOrCreate("pyseiRemote");
    const whale = await remote.ethers.getSigner(WHALE);
    const [, other] = await ethers.getSigners();
    const before = await ethers.provider.getBalance(other.address);
    const receipt = await (await whale.sendTransaction({ to: other.address, value: ethers.parseEther("1") })).wait();
    assert.equal(receipt!.status, 1);
    assert.equal(receipt!.from.toLowerCase(), WHALE);
    assert.equal(await ethers.provider.getBalance(other.address), before + ethers.parseEther("1"));
    const tx = await ethers.provider.getTransaction(receipt!.hash);
    assert.equal(tx!.from.toLowerCase(), WHALE);
    await networkHelpers.stopImpersonatingAccount(WHALE);
    await assert.rejects(whale.sendTransaction({ to: other.address, value: 1n }));
  });

  it("setCode, setStorageAt and setNonce edit state that calls and transactions see", async () => {
    const { token } = await deployToken();
    const code = await ethers.provider.getCode(await token.getAddress());
    const clone = "0x00000000000000000000000000000000000c10e5";
    await networkHelpers.setCode(clone, code);
    assert.equal(await ethers.provider.getCode(clone), code);
    // Slot 2 of Token is totalSupply (after name and symbol): set it through storage, read it through a call.
    await networkHelpers.setStorageAt(clone, 2, 12345n);
    assert.equal(await networkHelpers.getStorageAt(clone, 2), ethers.toBeHex(12345n, 32));
    const cloned = token.attach(clone) as typeof token;
    assert.equal(await cloned.totalSupply(), 12345n);

    const fresh = ethers.Wallet.createRandom().connect(ethers.provider);
    await networkHelpers.setBalance(fresh.address, ethers.parseEther("1"));
    await networkHelpers.setNonce(fresh.address, 42);
    assert.equal(await ethers.provider.getTransactionCount(fresh.address), 42);
    const sent = await (await fresh.sendTransaction({ to: WHALE, value: 1n })).wait();
    assert.equal(sent!.status, 1);
    assert.equal((await ethers.provider.getTransaction(sent!.hash))!.nonce, 42);
    assert.equal(await ethers.provider.getTransactionCount(fresh.address), 43);
  });
});
