// Recognising a token contract and reading its metadata, balances and transfers (address and token pages).
// The few return values read here (a uint is one word, a string is offset, length, bytes) decode in a few lines,
// so these pages do without ethers (500 KB), which only the pages that decode arbitrary ABIs load.
import { hex, num } from './format.js';
import { RpcError, batch } from './rpc.js';

const SELECTOR = {
  name: '0x06fdde03', symbol: '0x95d89b41', decimals: '0x313ce567', totalSupply: '0x18160ddd',
  supportsInterface: '0x01ffc9a7', balanceOf: '0x70a08231',
};
export const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
const ERC721_ID = '80ac58cd';
export const WINDOW = 1_000; // blocks of Transfer logs read at first; the pages offer ten times more each step

const word = (v) => v.toLowerCase().replace(/^0x/, '').padStart(64, '0');
const ok = (r) => typeof r === 'string' && r.length >= 66;
const uint = (r) => (ok(r) ? BigInt(r.slice(0, 66)) : undefined);

function string(r) {
  if (!ok(r)) return undefined;
  const bytes = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
  const hexed = r.slice(2);
  if (hexed.length === 64) return new TextDecoder().decode(bytes(hexed.replace(/(00)+$/, ''))); // a bytes32 name
  const offset = Number(BigInt('0x' + hexed.slice(0, 64))) * 2;
  const length = Number(BigInt('0x' + hexed.slice(offset, offset + 64))) * 2;
  const body = hexed.slice(offset + 64, offset + 64 + length);
  return body.length === length ? new TextDecoder().decode(bytes(body)) : undefined;
}

const callData = (address, data) => ['eth_call', { to: address, data }, 'latest'];

/** {kind, name, symbol, decimals, totalSupply} of the contract at ``address``, or null if it is no token. */
export async function tokenInfo(address) {
  const results = await batch([
    callData(address, SELECTOR.name), callData(address, SELECTOR.symbol), callData(address, SELECTOR.decimals),
    callData(address, SELECTOR.totalSupply), callData(address, SELECTOR.supportsInterface + ERC721_ID.padEnd(64, '0')),
  ]);
  const [name, symbol, decimals, supply, is721] = results.map((r) => (r instanceof RpcError ? undefined : r));
  const info = {
    name: string(name), symbol: string(symbol), decimals: uint(decimals), totalSupply: uint(supply),
    kind: uint(is721) === 1n ? 'ERC-721' : 'ERC-20',
  };
  if (info.kind === 'ERC-20' && info.decimals === undefined && info.totalSupply === undefined) return null;
  return info;
}

/** balanceOf(holder) of ``token`` for each holder (undefined where the call fails). */
export async function balances(token, holders) {
  const results = await batch(holders.map((a) => callData(token, SELECTOR.balanceOf + word(a))));
  return results.map((r) => (r instanceof RpcError ? undefined : uint(r)));
}

/** Transfer logs (ERC-20 and ERC-721 share the topic) of ``token`` and/or touching ``holder`` in the last
 * ``blocks`` blocks, newest first. */
export async function transfers({ token, holder, head, blocks }) {
  const from = hex(Math.max(0, head - blocks + 1));
  const topic = holder ? '0x' + word(holder) : null;
  const filters = holder ? [{ topics: [TRANSFER, topic] }, { topics: [TRANSFER, null, topic] }] : [{ topics: [TRANSFER] }];
  const results = await batch(filters.map((f) => ['eth_getLogs', { ...f, address: token, fromBlock: from, toBlock: hex(head) }]));
  const failed = results.find((r) => r instanceof RpcError);
  if (failed) throw failed;
  const seen = new Set();
  const logs = results.flat().filter((l) => l.topics.length >= 3 && !seen.has(`${l.transactionHash}:${l.logIndex}`) && seen.add(`${l.transactionHash}:${l.logIndex}`));
  logs.sort((a, b) => num(b.blockNumber) - num(a.blockNumber) || num(b.logIndex) - num(a.logIndex));
  return logs.map((l) => ({
    log: l,
    from: '0x' + l.topics[1].slice(26),
    to: '0x' + l.topics[2].slice(26),
    amount: l.topics.length === 4 ? null : BigInt(l.data.length >= 66 ? l.data.slice(0, 66) : 0),
    tokenId: l.topics.length === 4 ? BigInt(l.topics[3]) : null,
  }));
}
