// JSON-RPC to the node (or to `pysei explorer`'s allow-listed proxy): the server names both URLs in index.html.

const setting = (name) => document.querySelector(`meta[name="pysei-${name}"]`).content;
const rpcUrl = new URL(setting('rpc'), location.href).href;

export class RpcError extends Error {
  constructor({ code, message, data }) {
    super(message);
    this.code = code;
    this.data = data;
  }

  /** The node has no such method: the page shows "not available on this node" instead of an error. */
  get missing() {
    return this.code === -32601;
  }
}

let ids = 0;

async function post(body) {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.json();
}

export async function call(method, ...params) {
  const answer = await post({ jsonrpc: '2.0', id: ++ids, method, params });
  if (answer.error) throw new RpcError(answer.error);
  return answer.result;
}

/** One HTTP round trip for a page's reads: each entry of the result is the call's result or an RpcError. */
export async function batch(calls) {
  if (!calls.length) return [];
  const answers = await post(calls.map(([method, ...params], id) => ({ jsonrpc: '2.0', id, method, params })));
  if (!Array.isArray(answers)) throw new RpcError(answers.error || { code: -32603, message: 'no batch answer' });
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((_, i) => {
    const a = byId.get(i);
    if (!a) return new RpcError({ code: -32603, message: 'no answer' });
    return a.error ? new RpcError(a.error) : a.result;
  });
}

/** ``batch`` for reads that must all succeed. */
export async function all(calls) {
  const results = await batch(calls);
  const failed = results.find((r) => r instanceof RpcError);
  if (failed) throw failed;
  return results;
}

// --- live heads over one shared WebSocket ------------------------------------------------------------------
const listeners = new Set();
let socket = null;

function connect() {
  const url = new URL(setting('ws'), location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  socket = new WebSocket(url);
  socket.addEventListener('open', () =>
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 'heads', method: 'eth_subscribe', params: ['newHeads'] })));
  socket.addEventListener('message', (event) => {
    const msg = JSON.parse(event.data);
    if (msg.method === 'eth_subscription') for (const fn of listeners) fn(msg.params.result);
  });
  socket.addEventListener('close', () => {
    socket = null;
    if (listeners.size) setTimeout(() => listeners.size && !socket && connect(), 1000);
  });
}

/** Calls ``fn(header)`` for each new block; returns the function that stops it. */
export function onHead(fn) {
  listeners.add(fn);
  if (!socket) connect();
  return () => listeners.delete(fn);
}
