import { describe, expect, it } from 'vitest';
import { translate } from './i18n.js';
import {
  ALPHA, MIN_REACHED, erf, formatLift, formatP, normalCdf, significanceByRow, splitVariants, twoProportionTest,
} from './significance.js';

describe('the normal distribution', () => {
  it('erf (Abramowitz–Stegun 7.1.26) agrees with the tables to 1e-6', () => {
    expect(erf(0)).toBeCloseTo(0, 6);
    expect(erf(0.5)).toBeCloseTo(0.5204999, 6);
    expect(erf(1)).toBeCloseTo(0.8427008, 6);
    expect(erf(2)).toBeCloseTo(0.9953223, 6);
    expect(erf(-1)).toBeCloseTo(-0.8427008, 6);
  });
  it('Φ(z) at the usual points', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 5);
  });
});

describe('the two-proportion z-test', () => {
  it('100 of 1000 against 130 of 1000: z ≈ −2.10, p ≈ 0.036, 23 % less', () => {
    const r = twoProportionTest(1000, 100, 1000, 130);
    expect(r.z).toBeCloseTo(-2.1027, 3);
    expect(r.p).toBeCloseTo(0.0355, 3);
    expect(r.p).toBeLessThan(ALPHA);
    expect(r.rate1).toBe(0.1);
    expect(r.rate2).toBe(0.13);
    expect(r.lift).toBeCloseTo(-0.2308, 4);
  });
  it('is symmetric: the other way round z changes sign, p stays', () => {
    const a = twoProportionTest(1000, 100, 1000, 130);
    const b = twoProportionTest(1000, 130, 1000, 100);
    expect(b.z).toBeCloseTo(-a.z, 10);
    expect(b.p).toBeCloseTo(a.p, 10);
    expect(b.lift).toBeCloseTo(0.3, 10);
  });
  it('a small difference on small groups is not significant (20/200 vs 25/200: z ≈ −0.79, p ≈ 0.43)', () => {
    const r = twoProportionTest(200, 20, 200, 25);
    expect(r.z).toBeCloseTo(-0.7912, 3);
    expect(r.p).toBeCloseTo(0.4288, 3);
  });
  it('equal rates give p = 1 and no lift', () => {
    expect(twoProportionTest(500, 50, 1000, 100)).toMatchObject({ z: 0, p: 1, lift: 0 });
    // nobody (or everybody) converted on either side: no spread, no difference
    expect(twoProportionTest(40, 0, 60, 0)).toMatchObject({ z: 0, p: 1, lift: null });
    expect(twoProportionTest(40, 40, 60, 60)).toMatchObject({ z: 0, p: 1, lift: 0 });
  });
  it('a huge difference has p near 0, never below', () => {
    const r = twoProportionTest(10000, 100, 10000, 900);
    expect(r.p).toBeGreaterThanOrEqual(0);
    expect(r.p).toBeLessThan(1e-6);
  });
  it('no result when a group reached nobody or the counts make no sense', () => {
    expect(twoProportionTest(0, 0, 1000, 130)).toBeNull();
    expect(twoProportionTest(1000, 100, 0, 0)).toBeNull();
    expect(twoProportionTest(10, 11, 10, 1)).toBeNull();
    expect(twoProportionTest(10, -1, 10, 1)).toBeNull();
    expect(twoProportionTest(undefined, 1, 10, 1)).toBeNull();
  });
});

const row = (key, reached, converted, label = key) => ({ key, label, clients_reached: reached, converted, revenue: 0 });
const split = (keys, id = 'ab') => ({ id, type: 'flow.split', params: { variants: keys.map((key) => ({ key, weight: 50 })) } });

describe("the split's variants", () => {
  it('come from the first flow.split node, in order', () => {
    const nodes = [{ id: 'start', type: 'event.order_created', params: {} }, split(['A', 'B', 'control'])];
    expect(splitVariants(nodes)).toEqual(['A', 'B', 'control']);
    expect(splitVariants([{ id: 'h', type: 'action.webhook', params: {} }])).toEqual([]);
    expect(splitVariants(undefined)).toEqual([]);
  });
  it('with rows, the first split with two variants that reached someone', () => {
    const nodes = [split(['x', 'y'], 's1'), split(['A', 'B'], 's2')];
    expect(splitVariants(nodes, [row('x', 10, 1), row('A', 40, 2), row('B', 40, 3)])).toEqual(['A', 'B']);
    expect(splitVariants(nodes, [row('x', 10, 1)])).toEqual([]);
  });
});

describe('the «Значимость» of each variant', () => {
  it('compares each variant with the best-converting one', () => {
    const rows = [row('A', 1000, 100), row('B', 1000, 130), row('C', 1000, 125), row('hook', 50, 5)];
    const hints = significanceByRow(rows, ['A', 'B', 'C']);
    expect(hints.B).toEqual({ kind: 'best' });
    expect(hints.A).toMatchObject({ kind: 'significant', against: 'B' });
    expect(hints.A.p).toBeCloseTo(0.0355, 3);
    expect(hints.C.kind).toBe('chance');
    expect(hints.hook).toBeUndefined(); // a branch that is no variant
  });
  it('says «мало данных» when either group reached fewer than 30', () => {
    const hints = significanceByRow([row('A', MIN_REACHED - 1, 3), row('B', 500, 60)], ['A', 'B']);
    expect(hints).toEqual({ A: { kind: 'few', against: 'B' }, B: { kind: 'best' } });
    const small = significanceByRow([row('A', 20, 5), row('B', 20, 4)], ['A', 'B']);
    expect(small).toEqual({ A: { kind: 'few' }, B: { kind: 'few', against: 'A' } });
  });
  it("a small group's lucky share is not the yardstick while another has enough data", () => {
    const hints = significanceByRow([row('A', 100, 5), row('B', 100, 20), row('control', 12, 6)], ['A', 'B', 'control']);
    expect(hints.B).toEqual({ kind: 'best' });
    expect(hints.A.kind).toBe('significant');
    expect(hints.control).toEqual({ kind: 'few', against: 'B' });
  });
  it('needs two variants with data, else no column', () => {
    expect(significanceByRow([row('A', 100, 5), row('B', 0, 0)], ['A', 'B'])).toBeNull();
    expect(significanceByRow([row('A', 100, 5), row('true', 100, 9)], [])).toBeNull();
    expect(significanceByRow([], ['A', 'B'])).toBeNull();
    const three = significanceByRow([row('A', 100, 5), row('B', 100, 9), row('C', 0, 0)], ['A', 'B', 'C']);
    expect(three.C).toEqual({ kind: 'none' });
  });
  it('on a tie the first variant is the best', () => {
    expect(significanceByRow([row('A', 100, 10), row('B', 200, 20)], ['A', 'B'])).toMatchObject({ A: { kind: 'best' }, B: { kind: 'chance', p: 1 } });
  });
});

describe('the texts', () => {
  it('p and lift in Russian and English', () => {
    expect(formatP(0.0355, 'ru')).toBe('= 0,036');
    expect(formatP(0.41, 'ru')).toBe('= 0,41');
    expect(formatP(1, 'ru')).toBe('= 1');
    expect(formatP(0.0004, 'ru')).toBe('< 0,001');
    expect(formatP(0.0355, 'en')).toBe('= 0.036');
    expect(formatLift(-0.2308, 'ru')).toBe('−23 %');
    expect(formatLift(0.05, 'ru')).toBe('+5 %');
    expect(formatLift(-0.052, 'en')).toBe('−5.2 %');
    expect(translate('ru', 'stats.sig.significant', { p: formatP(0.0355, 'ru') })).toBe('p = 0,036 — разница значима');
    expect(translate('ru', 'stats.sig.chance', { p: formatP(0.41, 'ru') })).toBe('p = 0,41 — пока случайность');
    expect(translate('ru', 'stats.sig.few')).toBe('мало данных');
    expect(translate('en', 'stats.sig.significant', { p: formatP(0.0355, 'en') })).toBe('p = 0.036 — the difference is significant');
  });
});
