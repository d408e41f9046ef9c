// Bar charts as inline SVG (a few dozen bars: a charting library would outweigh the page).
import { h, s } from './dom.js';
import { count } from './format.js';

const W = 300;
const H = 80;

/** ``values`` per bucket, oldest first; ``label`` names the series, ``unit`` follows the figures. */
export function bars(label, values, unit) {
  const max = Math.max(1, ...values);
  const w = W / Math.max(1, values.length);
  const last = values.length ? values[values.length - 1] : 0;
  return h('figure', { class: 'chart' },
    h('figcaption', null, label, h('span', { class: 'muted' }, ` peak ${count(Math.round(max))} ${unit}, now ${count(Math.round(last))} ${unit}`)),
    s('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
      values.map((v, i) => s('rect', {
        x: (i * w + 0.5).toFixed(2), width: Math.max(0.5, w - 1).toFixed(2),
        y: (H - (v / max) * H).toFixed(2), height: ((v / max) * H).toFixed(2),
      }))));
}

/** Per-second rates in ``buckets`` buckets of ``span`` seconds ending now, from (timestamp, amount) points. */
export function rates(points, buckets, span, now = Date.now() / 1000) {
  const out = new Array(buckets).fill(0);
  const start = now - buckets * span;
  for (const [t, amount] of points) {
    const i = Math.floor((t - start) / span);
    if (i >= 0 && i < buckets) out[i] += amount / span;
  }
  return out;
}
