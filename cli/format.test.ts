import { describe, expect, it } from '@jest/globals';
import type { Intercept } from '../core/api/intercept.js';
import { buildListTable, formatAge, formatDurationMs, formatObjects, formatRequestLine, formatStatus, formatTable } from './format.js';

const now = new Date('2024-05-01T12:00:00Z');
const icpt = (name: string, over: Partial<Intercept> = {}): Intercept => ({
  apiVersion: 'detour.dev/v1alpha1', kind: 'Intercept',
  metadata: { name, namespace: 'shop', creationTimestamp: '2024-05-01T11:55:00Z', uid: 'u' },
  spec: { workload: { kind: 'Deployment', name: 'checkout' }, port: 'http', match: { headers: [{ name: 'x-detour-user', exact: name.split('-')[0]! }] }, mode: 'Steal', owner: 'alice@example.com' },
  status: { phase: 'Active', clients: 2, sidecars: { ready: 2, desired: 2 } },
  ...over,
});

describe('formatAge', () => {
  it.each([
    ['2024-05-01T11:59:15Z', '45s'], ['2024-05-01T11:57:00Z', '180s'.replace('180s', '3m')], ['2024-05-01T09:00:00Z', '3h'], ['2024-04-26T12:00:00Z', '5d'], [undefined, '<unknown>'],
  ])('%s → %s', (from, age) => expect(formatAge(from, now)).toBe(age));
});

describe('formatDurationMs', () => {
  it.each([[0.42, '0.4 ms'], [12.4, '12 ms'], [1340, '1.3 s'], [125_000, '2m05s']])('%s → %s', (ms, text) => expect(formatDurationMs(ms)).toBe(text));
});

describe('formatRequestLine', () => {
  const base = { id: 1, method: 'GET', path: '/api/cart', status: 200, durationMs: 12, mirror: false, upgrade: false, protocol: 'http1' as const };
  const at = new Date(2024, 4, 1, 14, 3, 9);
  it.each([
    ['a served request', base, {}, '14:03:09  GET      /api/cart  200  12 ms  checkout-1'],
    ['a mirror copy', { ...base, mirror: true }, {}, '14:03:09  GET      /api/cart  200  12 ms  checkout-1  (mirror copy)'],
    ['a 502 with the reason', { ...base, status: 502, error: 'local server unreachable: ECONNREFUSED' }, { explanation: 'nothing is listening on localhost:3000' }, '14:03:09  GET      /api/cart  502  12 ms  checkout-1  ← nothing is listening on localhost:3000'],
    ['a 502 without explanation', { ...base, status: 502, error: 'boom' }, {}, '14:03:09  GET      /api/cart  502  12 ms  checkout-1  ← boom'],
  ])('%s', (_n, e, extra, line) => expect(formatRequestLine(e, { at, replica: 'checkout-1', ...extra })).toBe(line));
});

describe('tables', () => {
  it('pads columns to the widest cell', () => {
    expect(formatTable([['NAME', 'PHASE'], ['a-long-name', 'Active'], ['b', 'Pending']])).toBe('NAME          PHASE\na-long-name   Active\nb             Pending');
  });

  it('lists workload, match, mode, owner, phase, clients and age', () => {
    const text = buildListTable([icpt('alice-checkout'), icpt('bob-checkout', { status: { phase: 'Conflict', clients: 0 } }), icpt('x-checkout', { metadata: { name: 'x-checkout', namespace: 'shop', deletionTimestamp: 'now', creationTimestamp: '2024-05-01T11:59:00Z' } })], now, false).split('\n');
    expect(text[0]).toMatch(/^NAME +WORKLOAD +MATCH +MODE +OWNER +PHASE +CLIENTS +CREATOR +AGE$/);
    expect(text[1]).toMatch(/^alice-checkout +deployment\/checkout:http +x-detour-user=alice +Steal +alice@example.com +Active +2 +- +5m$/);
    expect(text[2]).toMatch(/^bob-checkout .* +Conflict +0 +- +5m$/);
    expect(text[3]).toMatch(/Terminating/);
    expect(buildListTable([icpt('alice-checkout')], now, true).split('\n')[1]).toMatch(/^shop +alice-checkout/);
  });

  it('shows the creator admission recorded and, once policies apply, the policy that allows each', () => {
    const stamped = icpt('alice-checkout', { metadata: { name: 'alice-checkout', namespace: 'shop', creationTimestamp: '2024-05-01T11:55:00Z', annotations: { 'detour.dev/creator': '{"username":"alice","groups":["developers"]}' } }, status: { phase: 'Active', clients: 1, allowedBy: 'InterceptPolicy shop/devs' } });
    const text = buildListTable([stamped, icpt('bob-checkout')], now, false).split('\n');
    expect(text[0]).toMatch(/ CLIENTS +CREATOR +POLICY +AGE$/);
    expect(text[1]).toMatch(/ Active +1 +alice +InterceptPolicy shop\/devs +5m$/);
    expect(text[2]).toMatch(/ Active +2 +- +- +5m$/);
    const status = formatStatus(stamped, [], now);
    expect(status).toMatch(/Creator: +alice \(groups developers\)/);
    expect(status).toMatch(/Policy: +InterceptPolicy shop\/devs/);
    expect(formatStatus(icpt('bob-checkout'), [], now)).toMatch(/Policy: +none selects this workload/);
  });

  it('-o wide shows every rule kind\'s value, fallback, sidecars and expiry (never without a ttl)', () => {
    const text = buildListTable([
      icpt('alice-checkout', { status: { phase: 'Active', clients: 1, sidecars: { ready: 2, desired: 3 }, expiresAt: '2024-05-01T14:00:00Z' } }),
      icpt('team-checkout', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-tenant', prefix: 'team-' }] }, fallback: 'Reject' }, status: { phase: 'Active' } }),
      icpt('re-checkout', { spec: { workload: { kind: 'Deployment', name: 'checkout' }, match: { headers: [{ name: 'x-user', regex: 'ali(ce|son)' }], pathPrefix: '/api' }, ttl: '1h' }, status: { phase: 'Pending' } }),
      icpt('old-checkout', { status: { phase: 'Expired', expiresAt: '2024-05-01T11:00:00Z' } }),
    ], now, false, true).split('\n');
    expect(text[0]).toMatch(/^NAME +WORKLOAD +MATCH +MODE +FALLBACK +OWNER +PHASE +CLIENTS +SIDECARS +EXPIRES +CREATOR +AGE$/);
    expect(text[1]).toMatch(/^alice-checkout +\S+ +x-detour-user=alice +Steal +App +alice@example.com +Active +1 +2\/3 +in 2h +- +5m$/);
    expect(text[2]).toMatch(/^team-checkout +\S+ +x-tenant\^=team- +Steal +Reject +Active +0 +- +never +- +5m$/);
    expect(text[3]).toMatch(/^re-checkout +\S+ +x-user~=ali\(ce\|son\), path under \/api +Steal +App +Pending +0 +- +<pending> +- +5m$/);
    expect(text[4]).toMatch(/ expired +- +5m$/);
  });
});

describe('formatStatus', () => {
  it('shows the spec, phase, conditions and the latest events', () => {
    const i = icpt('alice-checkout', { status: { phase: 'Active', clients: 1, sidecars: { ready: 2, desired: 2 }, expiresAt: '2024-05-01T14:00:00Z', conditions: [{ type: 'Routed', status: 'True', reason: 'Routed', message: 'routes served by 2 sidecars', lastTransitionTime: 't' }] } });
    const text = formatStatus(i, [
      { type: 'Normal', reason: 'Active', message: 'Routing matching requests', lastTimestamp: '2024-05-01T11:56:00Z' },
      { type: 'Normal', reason: 'OptedIn', message: 'Added label', lastTimestamp: '2024-05-01T11:55:10Z', count: 2 },
    ], now);
    expect(text).toMatch(/Workload: +Deployment\/checkout port http/);
    expect(text).toMatch(/Match: +x-detour-user=alice/);
    expect(text).toMatch(/Phase: +Active/);
    expect(text).toMatch(/Sidecars: +2\/2 ready/);
    expect(text).toMatch(/Expires: +2024-05-01T14:00:00Z \(in 2h\)/);
    expect(text).toMatch(/Routed +True +Routed +routes served by 2 sidecars/);
    expect(text.indexOf('OptedIn')).toBeLessThan(text.indexOf('Routing matching'));
    expect(text).toMatch(/Added label \(x2\)/);
  });

  it('says never for the expiry of an Intercept without a ttl', () => {
    expect(formatStatus(icpt('alice-checkout'), [], now)).toMatch(/Expires: +never/);
  });

  it('has a Versions line: the operator, and the pods whose sidecar only a restart replaces (issue 19.4)', () => {
    const message = '1 pod of Deployment/checkout run a sidecar older than this operator (Detour 0.2.0) serves — it serves 0.2.x and the release before it: checkout-a (0.0.9). Only a restart replaces a sidecar: kubectl rollout restart deployment/checkout -n shop';
    const i = icpt('alice-checkout', { status: { phase: 'Active', operatorVersion: '0.2.0', conditions: [{ type: 'SidecarsCurrent', status: 'False', reason: 'SidecarTooOld', message, lastTransitionTime: 't' }] } });
    expect(formatStatus(i, [], now).split('\n')).toContain(`  Versions:  operator 0.2.0; SidecarTooOld: ${message}`);
    expect(formatStatus(icpt('a-b'), [], now)).not.toMatch(/Versions:/);
  });

  it('says when the operator has not written status', () => {
    expect(formatStatus(icpt('a-b', { status: undefined }), [], now)).toMatch(/none yet: is the Detour operator running/);
  });
});

describe('formatObjects', () => {
  it('prints a List without managedFields as JSON or YAML', () => {
    const i = icpt('alice-checkout');
    (i.metadata as unknown as Record<string, unknown>).managedFields = [{ manager: 'x' }];
    const json = JSON.parse(formatObjects([i], 'json')) as { kind: string; items: Array<{ metadata: Record<string, unknown> }> };
    expect(json.kind).toBe('List');
    expect(json.items[0]!.metadata.managedFields).toBeUndefined();
    expect(formatObjects([i], 'yaml')).toMatch(/^apiVersion: v1\nkind: List\nitems:\n {2}- apiVersion: detour.dev\/v1alpha1/);
  });
});
