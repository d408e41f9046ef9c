// Recognising a token contract and reading its metadata and transfers (shared by the address and token pages).
import { STANDARDS } from './abi.js';
import * as ethers from './vendor/ethers.min.js';
import { num } from './format.js';
import { RpcError, batch } from './rpc.js';

const erc20 = new ethers.Interface(STANDARDS['ERC-20']);
const erc721 = new ethers.Interface(STANDARDS['ERC-721']);
export const TRANSFER = ethers.id('Transfer(address,address,uint256)');
const ERC721_ID = '0x80ac58cd';
export const LOG_WINDOW = 50_000; // blocks of logs a token or address page reads without an address index

const read = (iface, fn, result) => {
  if (result instanceof RpcError || !result || result === '0x') return undefined;
  try {
    return iface.decodeFunctionResult(fn, result)[0];
  } catch {
    return undefined;
  }
};

/** {kind, name, symbol, decimals, totalSupply} of the contract at ``address``, or null if it is no token. */
export async function tokenInfo(address, block = 'latest') {
  const q = (iface, fn, args = []) => ['eth_call', { to: address, data: iface.encodeFunctionData(fn, args) }, block];
  const [name, symbol, decimals, supply, is721] = await batch([
    q(erc20, 'name'), q(erc20, 'symbol'), q(erc20, 'decimals'), q(erc20, 'totalSupply'), q(erc721, 'supportsInterface', [ERC721_ID]),
  ]);
  const info = {
    name: read(erc20, 'name', name),
    symbol: read(erc20, 'symbol', symbol),
    decimals: read(erc20, 'decimals', decimals),
    totalSupply: read(erc20, 'totalSupply', supply),
    kind: read(erc721, 'supportsInterface', is721) ? 'ERC-721' : 'ERC-20',
  };
  if (info.kind === 'ERC-20' && info.decimals === undefined && info.totalSupply === undefined) return null;
  return info;
}

/** Transfer logs (ERC-20 and ERC-721 share the topic) of ``token`` and/or touching ``holder``, newest first. */
export async function transfers({ token, holder, head }) {
  const from = '0x' + Math.max(0, head - LOG_WINDOW + 1).toString(16);
  const topic = holder ? ethers.zeroPadValue(holder.toLowerCase(), 32) : null;
  const filters = holder
    ? [{ topics: [TRANSFER, topic] }, { topics: [TRANSFER, null, topic] }]
    : [{ topics: [TRANSFER] }];
  const results = await batch(filters.map((f) => ['eth_getLogs', { ...f, address: token, fromBlock: from, toBlock: 'latest' }]));
  const failed = results.find((r) => r instanceof RpcError);
  if (failed) throw failed;
  const seen = new Set();
  const logs = results.flat().filter((l) => {
    const key = `${l.transactionHash}:${l.logIndex}`;
    return !seen.has(key) && seen.add(key);
  });
  logs.sort((a, b) => num(b.blockNumber) - num(a.blockNumber) || num(b.logIndex) - num(a.logIndex));
  return logs.map((l) => ({
    log: l,
    from: ethers.getAddress('0x' + l.topics[1].slice(26)),
    to: ethers.getAddress('0x' + l.topics[2].slice(26)),
    amount: l.topics.length === 4 ? null : BigInt(l.data === '0x' ? 0 : l.data.slice(0, 66)),
    tokenId: l.topics.length === 4 ? BigInt(l.topics[3]) : null,
  }));
}

