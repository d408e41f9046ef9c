// Decoding calldata, logs and revert data with ethers' Interface (vendored from the npm package ethers, pinned
// in tests/clients/js; `make explorer-vendor` refreshes it), loaded only by the pages that decode.
import * as ethers from './vendor/ethers.min.js';
import { MODULE_ABIS } from './modules.js';

export const STANDARDS = {
  'ERC-20': [
    'function transfer(address to, uint256 amount) returns (bool)',
    'function transferFrom(address from, address to, uint256 amount) returns (bool)',
    'function approve(address spender, uint256 amount) returns (bool)',
    'function name() view returns (string)', 'function symbol() view returns (string)',
    'function decimals() view returns (uint8)', 'function totalSupply() view returns (uint256)',
    'function balanceOf(address owner) view returns (uint256)',
    'event Transfer(address indexed from, address indexed to, uint256 value)',
    'event Approval(address indexed owner, address indexed spender, uint256 value)',
  ],
  'ERC-721': [
    'function safeTransferFrom(address from, address to, uint256 tokenId)',
    'function safeTransferFrom(address from, address to, uint256 tokenId, bytes data)',
    'function setApprovalForAll(address operator, bool approved)',
    'function ownerOf(uint256 tokenId) view returns (address)',
    'function supportsInterface(bytes4 interfaceId) view returns (bool)',
    'event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)',
    'event ApprovalForAll(address indexed owner, address indexed operator, bool approved)',
  ],
  'ERC-1155': [
    'function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] amounts, bytes data)',
    'event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value)',
    'event TransferBatch(address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values)',
    'event URI(string value, uint256 indexed id)',
  ],
};

// The project's own contracts (the benchmark workloads) decode like the standards; the server sends their ABIs.
export const PROJECT = await (await fetch('project-abis.json')).json();

const BUILT_IN = [...Object.entries(STANDARDS), ...Object.entries(PROJECT)].map(([k, v]) => [k, new ethers.Interface(v)]);

// Sei's module precompiles decode their calls and events at their own addresses only.
const MODULES = Object.entries(MODULE_ABIS).map(([label, { address, abi }]) => [address, [label, new ethers.Interface(abi)]]);

const KEY = 'pysei-explorer-abis';

/** ABIs the user added on the ABIs page: {label: {address (lower case) or '', abi: JSON text}}. */
export function savedAbis() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || '{}');
  } catch {
    return {};
  }
}

/** Checks ``text`` parses as an ABI and stores it; throws with ethers' reason when it does not. */
export function saveAbi(label, address, text) {
  new ethers.Interface(JSON.parse(text));
  localStorage.setItem(KEY, JSON.stringify({ ...savedAbis(), [label]: { address: address.toLowerCase(), abi: text } }));
}

export function removeAbi(label) {
  const all = savedAbis();
  delete all[label];
  localStorage.setItem(KEY, JSON.stringify(all));
}

/** [source, Interface] candidates for a contract: a module precompile's ABI or its own uploaded ABI first, then
 * global uploads, the standards, and the project's contracts. */
function candidates(address) {
  const own = [];
  const global = [];
  for (const [label, { address: at, abi }] of Object.entries(savedAbis())) {
    try {
      const entry = [label, new ethers.Interface(JSON.parse(abi))];
      if (!at) global.push(entry);
      else if (address && at === address.toLowerCase()) own.push(entry);
    } catch {
      // a stored ABI that no longer parses is skipped; the ABIs page lists it for removal
    }
  }
  const module = MODULES.filter(([at]) => address && at === address.toLowerCase()).map(([, entry]) => entry);
  return [...module, ...own, ...global, ...BUILT_IN];
}

const show = (v) => {
  if (typeof v === 'bigint') return v.toString();
  if (v && typeof v.toArray === 'function') return `[${v.toArray().map(show).join(', ')}]`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  return String(v);
};
const fields = (inputs, values) => inputs.map((p, i) => ({ name: p.name || `#${i}`, type: p.type, value: show(values[i]) }));

/** {source, name, signature, args} for calldata ``data`` sent to ``to``, or null. */
export function decodeCall(to, data) {
  if (!data || data.length < 10) return null;
  for (const [source, iface] of candidates(to)) {
    try {
      const d = iface.parseTransaction({ data });
      if (d) return { source, name: d.name, signature: d.signature, args: fields(d.fragment.inputs, d.args) };
    } catch {
      // not this ABI
    }
  }
  return null;
}

/** {source, name, signature, args} for a log, or null. */
export function decodeLog(log) {
  for (const [source, iface] of candidates(log.address)) {
    try {
      const d = iface.parseLog({ topics: log.topics, data: log.data });
      if (d) return { source, name: d.name, signature: d.signature, args: fields(d.fragment.inputs, d.args) };
    } catch {
      // not this ABI (an ERC-721 Transfer has the ERC-20 topic but a different layout)
    }
  }
  return null;
}

/** The reason in revert data: Error(string), Panic(uint256), or a custom error of an uploaded ABI. */
export function decodeRevert(data, address) {
  if (!data || data === '0x') return null;
  try {
    const d = ethers.AbiCoder.getBuiltinCallException('call', { data }, data);
    if (d.reason) return d.reason;
  } catch {
    // not a built-in error
  }
  for (const [, iface] of candidates(address)) {
    try {
      const e = iface.parseError(data);
      if (e) return `${e.name}(${e.args.map(show).join(', ')})`;
    } catch {
      // not this ABI
    }
  }
  return null;
}

export const selector = (signature) => ethers.id(signature).slice(0, 10);
