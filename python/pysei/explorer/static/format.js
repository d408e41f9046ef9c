// Formatting chain values and the explorer's links (hash routes built only from validated values).

export const isAddress = (v) => /^0x[0-9a-fA-F]{40}$/.test(v);
export const isHash = (v) => /^0x[0-9a-fA-F]{64}$/.test(v);
export const isNumber = (v) => /^[0-9]{1,20}$/.test(v);
export const isValoper = (v) => /^seivaloper1[02-9ac-hj-np-z]{6,90}$/i.test(v); // bech32's alphabet

export const big = (hex) => (hex === null || hex === undefined ? 0n : BigInt(hex));
export const num = (hex) => Number(big(hex));
export const hex = (n) => '0x' + BigInt(n).toString(16);

const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** ``value`` scaled down by 10^decimals, grouped, with at most ``frac`` fraction digits (trailing zeros cut). */
export function units(value, decimals = 18, frac = 6) {
  const v = BigInt(value);
  const neg = v < 0n;
  const a = neg ? -v : v;
  const scale = 10n ** BigInt(decimals);
  const whole = group((a / scale).toString());
  let rest = decimals ? (a % scale).toString().padStart(decimals, '0').slice(0, frac).replace(/0+$/, '') : '';
  if (!rest && a % scale !== 0n && a < scale) rest = '0'.repeat(Math.min(frac, decimals)) + '…';
  return (neg ? '-' : '') + whole + (rest ? '.' + rest : '');
}

export const sei = (wei) => `${units(wei, 18, 8)} SEI`;
export const gwei = (wei) => `${units(wei, 9, 3)} gwei`;
export const count = (n) => group(String(n));
export const short = (h, n = 8) => (h && h.length > 2 * n + 2 ? `${h.slice(0, n + 2)}…${h.slice(-n)}` : h);

/** How long ago ``ts`` (seconds) was, or how far ahead it is ("in 3 d": a proposal's voting end). */
export function ago(ts) {
  const d = Math.round(Date.now() / 1000 - ts);
  const s = Math.abs(d);
  const span = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
  return d < -1 ? `in ${span}` : `${span} ago`;
}

export const when = (ts) => `${new Date(ts * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC')} (${ago(ts)})`;

/** A non-negative integer parameter of the current route (#/token/0x…?blocks=20000), or ``fallback``. */
export function param(name, fallback) {
  const v = Number(new URLSearchParams(location.hash.split('?')[1] || '').get(name));
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

export const route = {
  block: (n) => `#/block/${typeof n === 'string' && n.startsWith('0x') && n.length === 66 ? n : BigInt(n).toString()}`,
  tx: (hash) => `#/tx/${hash}`,
  address: (a) => `#/address/${a}`,
  token: (a) => `#/token/${a}`,
  validator: (v) => `#/validator/${v}`,
  proposal: (id) => `#/proposal/${BigInt(id)}`,
};

// Sei module amounts (bigints from the precompiles' ABI decoding).
/** Decimal coins (amount with ``decimals`` decimal places of usei) as SEI, rounded down to the usei. */
export const coins = (list) => (list.length ? list.map((c) => usei(c.amount / 10n ** c.decimals)).join(' + ') : '0 SEI');

/** A usei amount (bigint) as SEI with up to 6 decimals. */
export function usei(amount) {
  const whole = amount / 1_000_000n;
  const frac = (amount % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${whole.toLocaleString('en-US')}${frac ? `.${frac}` : ''} SEI`;
}

/** A fixed-point rate with 18 decimals (Cosmos Dec) as a percentage. */
export const percent = (rate) => `${(Number(rate / 10n ** 12n) / 1e4).toFixed(2)}%`;
