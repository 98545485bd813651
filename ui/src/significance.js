// The significance hint of an A/B test (issue #20): a two-proportion z-test between the
// conversion shares of two variants of a `flow.split`, and which variants of the scenario's
// «Конверсии по веткам» are compared with which.

import { SPLIT_TYPE } from './flowDoc.js';

/** Below this many reached clients in either group the hint says «мало данных». */
export const MIN_REACHED = 30;
/** The p-value under which a difference is called significant. */
export const ALPHA = 0.05;

/** The error function, Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5·10⁻⁷). */
export function erf(x) {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}

/** The standard normal CDF, Φ(z). */
export function normalCdf(z) {
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

const count = (v) => Number.isFinite(v) && v >= 0;

/**
 * The pooled two-proportion z-test of `x1` converted of `n1` reached against `x2` of `n2`:
 * `{ rate1, rate2, z, p, lift }`, where `z` is (rate1 − rate2) over the pooled standard error,
 * `p` the two-sided p-value and `lift` the relative change of rate1 against rate2
 * ((rate1 − rate2) / rate2; null when rate2 is 0). Null when a group reached nobody or the counts
 * make no sense (negative, more converted than reached).
 */
export function twoProportionTest(n1, x1, n2, x2) {
  if (![n1, x1, n2, x2].every(count) || !n1 || !n2 || x1 > n1 || x2 > n2) return null;
  const rate1 = x1 / n1;
  const rate2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  // nobody or everybody converted in both groups: no spread, no difference
  const z = se > 0 ? (rate1 - rate2) / se : 0;
  const p = z === 0 ? 1 : Math.min(1, Math.max(0, 2 * (1 - normalCdf(Math.abs(z)))));
  const lift = rate2 > 0 ? (rate1 - rate2) / rate2 : null;
  return { rate1, rate2, z, p, lift };
}

/**
 * The variant keys of the scenario's A/B split, in order, from the flow document's nodes
 * (`[{ type, params: { variants: [{ key }] } }]`): the first `flow.split` node's; [] without one.
 * With `rows` (the branch table's), the first split having at least two rows with reached clients.
 */
export function splitVariants(nodes, rows = null) {
  const splits = (Array.isArray(nodes) ? nodes : [])
    .filter((n) => n?.type === SPLIT_TYPE && Array.isArray(n.params?.variants))
    .map((n) => n.params.variants.map((v) => v?.key).filter((k) => typeof k === 'string' && k));
  if (!rows) return splits[0] || [];
  const reached = new Set(rows.filter((r) => r.clients_reached > 0).map((r) => r.key));
  return splits.find((keys) => keys.filter((k) => reached.has(k)).length >= 2) || [];
}

/**
 * The «Значимость» of each variant row against the best-converting variant (the highest share of
 * converted among those that reached at least MIN_REACHED clients, else among all that reached
 * someone; on a tie the first): `{ [key]: hint }` where a hint is
 *   { kind: 'best' } — the one the others are compared with ('few' when it reached fewer than
 *     MIN_REACHED clients itself);
 *   { kind: 'few', against } — either group reached fewer than MIN_REACHED clients;
 *   { kind: 'significant' | 'chance', against, p, z, lift } — p below ALPHA or not, `lift` this
 *     variant's share against the best one's (≤ 0), `against` the best one's label;
 *   { kind: 'none' } — this variant reached nobody.
 * Rows that are no variant get no hint. Null (no column) unless two variants have reached clients.
 */
export function significanceByRow(rows, variants) {
  const keys = new Set(variants || []);
  const mine = (rows || []).filter((r) => keys.has(r.key));
  const withData = mine.filter((r) => r.clients_reached > 0);
  if (withData.length < 2) return null;
  const rate = (r) => r.converted / r.clients_reached;
  // a tiny group's lucky share is no yardstick: the best among those with enough data, if any
  const enough = withData.filter((r) => r.clients_reached >= MIN_REACHED);
  const best = (enough.length ? enough : withData).reduce((a, b) => (rate(b) > rate(a) ? b : a));
  const against = best.label ?? best.key;
  const hints = {};
  for (const r of mine) {
    const few = r.clients_reached < MIN_REACHED || best.clients_reached < MIN_REACHED;
    const test = few ? null : twoProportionTest(r.clients_reached, r.converted, best.clients_reached, best.converted);
    if (!(r.clients_reached > 0)) hints[r.key] = { kind: 'none' };
    else if (r === best) hints[r.key] = { kind: best.clients_reached < MIN_REACHED ? 'few' : 'best' };
    else if (few) hints[r.key] = { kind: 'few', against };
    else if (!test) hints[r.key] = { kind: 'none' };
    else hints[r.key] = { kind: test.p < ALPHA ? 'significant' : 'chance', against, p: test.p, z: test.z, lift: test.lift };
  }
  return hints;
}

const locale = (lang) => (lang === 'en' ? 'en-GB' : 'ru-RU');

/** A p-value as people read it: "0,036", "0,41", "1"; "< 0,001" below a thousandth. */
export function formatP(p, lang) {
  if (p < 0.001) return `< ${(0.001).toLocaleString(locale(lang))}`;
  return `= ${p.toLocaleString(locale(lang), { maximumSignificantDigits: 2 })}`;
}

/** A relative lift as "+30 %" / "−23,1 %" (one decimal below 10 %). */
export function formatLift(lift, lang) {
  const pct = 100 * lift;
  const digits = Math.abs(pct) < 10 ? 1 : 0;
  const text = Math.abs(pct).toLocaleString(locale(lang), { maximumFractionDigits: digits });
  return `${pct < 0 ? '−' : '+'}${text} %`;
}
