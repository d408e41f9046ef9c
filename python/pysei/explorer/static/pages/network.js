// The network: consensus lanes and commits, validators, proposals (where the node serves them), and what every
// pysei node has — the parallel executor's per-block statistics and the state commitment's lag.
import { h, json, kv, problem, section, table, unavailable } from '../dom.js';
import { count, num } from '../format.js';
import { blockLink } from '../links.js';
import { RpcError, batch } from '../rpc.js';

const STATS = ['threads', 'incarnations', 'validation_aborts', 'dependency_waits', 'predicted_dependencies', 'lazy_credits', 'fallback'];

export async function render(ctx) {
  const body = h('div', null, await view());
  ctx.onHead(async () => {
    const next = await view();
    if (ctx.current()) body.replaceChildren(next);
  });
  return body;
}

async function view() {
  const [head, commitment, stats, consensus, validators, proposals] = await batch([
    ['eth_blockNumber'],
    ['sei_getStateCommitment', 'latest'],
    ['pysei_executionStats', '0x14'],
    ['sei_consensusStatus'],
    ['sei_validators'],
    ['sei_proposals'],
  ]);
  return [
    section('Consensus', optional(consensus, 'Live consensus view (lanes, cars, certificates, commits)', 'sei_consensusStatus')),
    section('Validators', optional(validators, 'Validators, stake and delegations', 'sei_validators')),
    section('Governance', optional(proposals, 'Governance proposals and tallies', 'sei_proposals')),
    section('State commitment', commitmentLag(head, commitment)),
    section('Parallel execution (recent blocks)', statsTable(stats)),
  ];
}

function optional(result, what, method) {
  if (result instanceof RpcError) return result.missing ? unavailable(what, method) : problem(`${what}: ${result.message}`);
  return json(result);
}

/** How far the LtHash worker trails execution: the newest block whose commitment is computed vs the head. */
function commitmentLag(head, c) {
  if (head instanceof RpcError) return problem(head.message);
  if (c instanceof RpcError) return c.missing ? unavailable('State commitment', 'sei_getStateCommitment') : problem(c.message);
  return kv([
    ['Head', blockLink(head)],
    ['Commitment of the head', h('span', { class: 'mono' }, c.commitment ?? 'not computed yet (the worker trails execution)')],
    ['Header delay', `block n's stateRoot commits to block n − ${num(c.delay)}`],
  ]);
}

function statsTable(stats) {
  if (stats instanceof RpcError) return stats.missing ? unavailable('Execution statistics', 'pysei_executionStats') : problem(stats.message);
  const rows = [...stats].reverse().map((s) => [blockLink(s.block), ...STATS.map((k) => (k === 'fallback' ? s[k] ?? 'parallel' : count(s[k] ?? 0)))]);
  return table(['Block', ...STATS.map((k) => k.replaceAll('_', ' '))], rows, { empty: 'No blocks executed since the node started.', attrs: { id: 'exec-stats' } });
}
