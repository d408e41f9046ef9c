// Hardhat 2 + hardhat-ethers (ethers v6) conformance test against an external node.
const { expect } = require("chai");
const hre = require("hardhat");

const { ethers, network } = hre;

const INITIAL_SUPPLY = ethers.parseEther("1000000");
const EXPECTED_CHAIN_ID = BigInt(process.env.PYSEI_CHAIN_ID || 713714);

// Hardhat 2 surfaces node errors for eth_call / eth_estimateGas as a raw
// ProviderError {code: 3, message: "execution reverted...", data: "0x<revert bytes>"},
// while ethers-level failures carry `revert` / `data`. Find the revert bytes wherever they are.
function revertDataOf(err) {
  for (let e = err; e; e = e.error || e.parent || e.cause || (e.info && e.info.error)) {
    if (typeof e.data === "string" && e.data.startsWith("0x") && e.data.length >= 10) return e.data;
    if (e.data && typeof e.data.data === "string") return e.data.data;
  }
  return undefined;
}

function decodeRevert(data, iface) {
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const selector = data.slice(0, 10);
  const body = "0x" + data.slice(10);
  if (selector === "0x08c379a0") return { name: "Error", args: [...coder.decode(["string"], body)] };
  if (selector === "0x4e487b71") return { name: "Panic", args: [...coder.decode(["uint256"], body)] };
  const parsed = iface.parseError(data);
  if (!parsed) throw new Error(`cannot decode revert data ${data}`);
  return { name: parsed.name, args: [...parsed.args] };
}

// Await a promise that must revert; check the decoded revert data.
async function expectRevert(promise, iface, name, args) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  expect(err, `expected a revert ${name}(${args})`).to.not.equal(undefined);
  expect(String(err.message)).to.match(/revert/i);
  const data = revertDataOf(err);
  expect(data, `no revert data in error: ${err.message}`).to.be.a("string");
  const decoded = decodeRevert(data, iface);
  expect(decoded.name).to.equal(name);
  if (args !== undefined) expect(decoded.args).to.deep.equal(args);
  return decoded;
}

describe("pysei conformance: Hardhat 2", function () {
  let signers;
  let deployer;
  let token;
  let reverter;
  let deployBlock;

  before(async function () {
    expect(network.name).to.equal("pysei");
    const net = await ethers.provider.getNetwork();
    expect(net.chainId).to.equal(EXPECTED_CHAIN_ID);
    signers = await ethers.getSigners();
    expect(signers.length).to.be.at.least(2, "PYSEI_PRIVATE_KEYS must provide at least two keys");
    deployer = signers[0];
    const funds = await ethers.provider.getBalance(deployer.address);
    expect(funds > ethers.parseEther("1"), `deployer balance ${funds} too low`).to.equal(true);
  });

  it("deploys the ERC-20 and mints the supply to the deployer", async function () {
    const Token = await ethers.getContractFactory("Token", deployer);
    token = await Token.deploy("Hardhat2 Token", "HH2", INITIAL_SUPPLY);
    await token.waitForDeployment();
    const receipt = await token.deploymentTransaction().wait();
    expect(receipt.status).to.equal(1);
    deployBlock = receipt.blockNumber;

    const address = await token.getAddress();
    expect(receipt.contractAddress).to.equal(address);
    const code = await ethers.provider.getCode(address);
    const artifact = await hre.artifacts.readArtifact("Token");
    expect(code).to.equal(artifact.deployedBytecode);

    expect(await token.name()).to.equal("Hardhat2 Token");
    expect(await token.symbol()).to.equal("HH2");
    expect(await token.decimals()).to.equal(18n);
    expect(await token.totalSupply()).to.equal(INITIAL_SUPPLY);
    expect(await token.balanceOf(deployer.address)).to.equal(INITIAL_SUPPLY);
  });

  it("transfers tokens and emits Transfer", async function () {
    const to = ethers.Wallet.createRandom().address;
    const amount = 12_345n;
    const tx = await token.transfer(to, amount);
    const receipt = await tx.wait();
    expect(receipt.status).to.equal(1);
    expect(receipt.hash).to.equal(tx.hash);

    const parsed = receipt.logs.map((l) => token.interface.parseLog(l)).filter(Boolean);
    expect(parsed.length).to.equal(1);
    expect(parsed[0].name).to.equal("Transfer");
    expect(parsed[0].args.from).to.equal(deployer.address);
    expect(parsed[0].args.to).to.equal(to);
    expect(parsed[0].args.value).to.equal(amount);

    expect(await token.balanceOf(to)).to.equal(amount);
    expect(await token.balanceOf(deployer.address)).to.equal(INITIAL_SUPPLY - amount);

    // eth_getLogs through queryFilter, filtered by the indexed `to` topic.
    const events = await token.queryFilter(token.filters.Transfer(null, to), deployBlock, "latest");
    expect(events.length).to.equal(1);
    expect(events[0].transactionHash).to.equal(tx.hash);
    expect(events[0].args.value).to.equal(amount);

    // Block and receipt consistency.
    const block = await ethers.provider.getBlock(receipt.blockNumber);
    expect(block.hash).to.equal(receipt.blockHash);
    expect(block.transactions).to.include(tx.hash);
  });

  it("approves and transferFroms with a second signer", async function () {
    const spender = signers[1];
    const to = ethers.Wallet.createRandom().address;
    await (await token.approve(spender.address, 500n)).wait();
    expect(await token.allowance(deployer.address, spender.address)).to.equal(500n);
    const r = await (await token.connect(spender).transferFrom(deployer.address, to, 200n)).wait();
    expect(r.status).to.equal(1);
    expect(await token.balanceOf(to)).to.equal(200n);
    expect(await token.allowance(deployer.address, spender.address)).to.equal(300n);
    await expectRevert(
      token.connect(spender).transferFrom(deployer.address, to, 301n),
      token.interface,
      "Error",
      ["ERC20: insufficient allowance"],
    );
  });

  it("surfaces require() reasons, custom errors and panics from eth_call / eth_estimateGas", async function () {
    const balance = await token.balanceOf(deployer.address);
    const tooMuch = [deployer.address, balance + 1n];
    const insufficient = ["ERC20: insufficient balance"];
    await expectRevert(token.transfer.staticCall(...tooMuch), token.interface, "Error", insufficient);
    await expectRevert(token.transfer.estimateGas(...tooMuch), token.interface, "Error", insufficient);
    // A plain send without gas limit fails at gas estimation with the reason.
    await expectRevert(token.transfer(...tooMuch), token.interface, "Error", insufficient);

    const Reverter = await ethers.getContractFactory("Reverter", deployer);
    reverter = await Reverter.deploy();
    await reverter.waitForDeployment();
    const iface = reverter.interface;
    await expectRevert(reverter.revertWithReason(), iface, "Error", ["Reverter: custom reason"]);
    await expectRevert(reverter.revertWithCustomError(), iface, "Unauthorized", [deployer.address, 42n]);
    await expectRevert(reverter.panicAssert(), iface, "Panic", [1n]);
    await expectRevert(reverter.divide(1, 0), iface, "Panic", [0x12n]);
    expect(await reverter.divide(10, 3)).to.equal(3n);
    await expectRevert(reverter.setValueCustomError.estimateGas(5), iface, "Unauthorized", [deployer.address, 5n]);
  });

  it("mines a failing transaction (status 0) and recovers the reason by replaying it", async function () {
    const before = await reverter.value();
    const tx = await reverter.setValue(1000, { gasLimit: 200_000 });
    let receipt;
    try {
      receipt = await tx.wait();
      expect.fail("wait() should throw for a status-0 receipt");
    } catch (e) {
      expect(e.code).to.equal("CALL_EXCEPTION");
      receipt = e.receipt;
    }
    expect(receipt).to.not.equal(undefined);
    expect(receipt.status).to.equal(0);
    expect(receipt.gasUsed > 21_000n && receipt.gasUsed < 200_000n).to.equal(true);
    expect(receipt.logs.length).to.equal(0);
    expect(await reverter.value()).to.equal(before);

    const mined = await ethers.provider.getTransaction(tx.hash);
    await expectRevert(
      ethers.provider.call({
        from: mined.from,
        to: mined.to,
        data: mined.data,
        gasLimit: mined.gasLimit,
        blockTag: receipt.blockNumber,
      }),
      reverter.interface,
      "Error",
      ["Reverter: value too large"],
    );

    // A successful state change for comparison.
    const ok = await (await reverter.setValue(7)).wait();
    expect(ok.status).to.equal(1);
    expect(await reverter.value()).to.equal(7n);
  });
});
