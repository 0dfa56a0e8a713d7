// The Intercept CRD, applied to a real API server: valid specs are accepted with their defaults,
// invalid ones are refused with a message that names the field.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureControlPlaneBinaries } from '../../cluster/controlplane/binaries.js';
import { createNamespace, deleteNamespace, loadKubeConfig } from '../../cluster/kube.js';
import { applyInterceptCrd, buildKubeClient, createIntercept, type InterceptJson } from './support/operator-harness.js';
import type { KubeClient } from '../../core/kube/client.js';
import { KubeApiError } from '../../core/kube/client.js';

const kc = loadKubeConfig();
let client: KubeClient;
let ns: string;
const workload = { kind: 'Deployment', name: 'checkout' };
const alice = { headers: [{ name: 'x-detour-user', exact: 'alice' }] };

beforeAll(async () => {
  client = buildKubeClient(kc);
  await applyInterceptCrd(client);
  ns = await createNamespace(kc, 'crd');
});
afterAll(async () => {
  await deleteNamespace(kc, ns);
  client.close();
});

async function refusal(spec: Record<string, unknown>, name = 'bad'): Promise<string> {
  try {
    await createIntercept(client, ns, name, spec);
  } catch (err) {
    if (err instanceof KubeApiError) return (JSON.parse(err.body) as { message: string }).message;
    throw err;
  }
  throw new Error(`the API server accepted ${JSON.stringify(spec)}`);
}

describe('Intercept CRD', () => {
  it('accepts a valid spec and fills in the defaults', async () => {
    const i: InterceptJson = await createIntercept(client, ns, 'ok', { workload, match: alice, ttl: '1h30m' });
    expect(i.spec).toMatchObject({ port: 'http', mode: 'Steal', fallback: 'App', ttl: '1h30m' });
  });

  it('accepts an Outbound intercept (no match), the credential of detour run', async () => {
    const i = await createIntercept(client, ns, 'outbound', { workload, mode: 'Outbound' });
    expect(i.spec.mode).toBe('Outbound');
  });

  it('accepts a global intercept (no match) on a numeric port', async () => {
    const i = await createIntercept(client, ns, 'global', { workload, port: 8080 });
    expect(i.spec.match).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['two of exact/prefix/regex', { workload, match: { headers: [{ name: 'x-detour-user', exact: 'a', prefix: 'a' }] } }, /spec\.match\.headers\[0\].*exactly one of exact, prefix or regex/],
    ['none of exact/prefix/regex', { workload, match: { headers: [{ name: 'x-detour-user' }] } }, /spec\.match\.headers\[0\].*exactly one of exact, prefix or regex/],
    ['a header name with a space', { workload, match: { headers: [{ name: 'x detour', exact: 'a' }] } }, /spec\.match\.headers\[0\]\.name.*valid HTTP header name/],
    ['a header name with a colon', { workload, match: { headers: [{ name: 'x:y', exact: 'a' }] } }, /spec\.match\.headers\[0\]\.name.*valid HTTP header name/],
    ['a regex that does not compile', { workload, match: { headers: [{ name: 'x', regex: 'a(b' }] } }, /spec\.match\.headers\[0\]\.regex.*valid regular expression/],
    ['a ttl that is not a duration', { workload, ttl: '8 hours' }, /spec\.ttl.*must be a duration/],
    ['a zero ttl', { workload, ttl: '0s' }, /spec\.ttl.*at least 1s/],
    ['an unknown workload kind', { workload: { kind: 'Job', name: 'x' } }, /spec\.workload\.kind.*Unsupported value: "Job"/],
    ['a workload name that is not a DNS name', { workload: { kind: 'Deployment', name: 'Check_Out' } }, /spec\.workload\.name.*DNS subdomain/],
    ['no workload', { port: 'http' }, /spec\.workload: Required value/],
    ['an unknown mode', { workload, mode: 'Copy' }, /spec\.mode.*Unsupported value: "Copy"/],
    ['an unknown fallback', { workload, fallback: 'Drop' }, /spec\.fallback.*Unsupported value: "Drop"/],
    ['Mirror with fallback Reject', { workload, mode: 'Mirror', fallback: 'Reject' }, /spec\.fallback.*only applies to mode: Steal/],
    ['Outbound with fallback Reject', { workload, mode: 'Outbound', fallback: 'Reject' }, /spec\.fallback.*only applies to mode: Steal/],
    ['Outbound with a match', { workload, mode: 'Outbound', match: { headers: [{ name: 'x-detour-user', exact: 'a' }] } }, /spec\.match.*mode: Outbound routes no requests/],
    ['a port number out of range', { workload, port: 70000 }, /spec\.port.*port number 1-65535 or a port name/],
    ['a port name that is not an IANA service name', { workload, port: 'HTTP_PORT' }, /spec\.port.*port number 1-65535 or a port name/],
    ['an empty match', { workload, match: {} }, /spec\.match.*omit match entirely for a global intercept/],
    ['a path prefix without a slash', { workload, match: { pathPrefix: 'api' } }, /spec\.match\.pathPrefix.*must start with '\/'/],
    ['a path prefix with a .. segment', { workload, match: { pathPrefix: '/x/../api' } }, /spec\.match\.pathPrefix.*must not contain '\.' or '\.\.' segments/],
    ['a path prefix with a . segment', { workload, match: { pathPrefix: '/api/.' } }, /spec\.match\.pathPrefix.*must not contain '\.' or '\.\.' segments/],
    ['a path prefix with a query', { workload, match: { pathPrefix: '/api?x=1' } }, /spec\.match\.pathPrefix.*without '\?'/],
    ['a regex RE2 refuses (lookahead)', { workload, match: { headers: [{ name: 'x', regex: '(?=a)b' }] } }, /spec\.match\.headers\[0\]\.regex.*valid regular expression/],
    ['an unknown field', { workload, colour: 'blue' }, /unknown field "spec\.colour"/],
    ['a baggage rule with two of exact/prefix/regex', { workload, match: { baggage: [{ key: 'detour-user', exact: 'a', regex: 'a' }] } }, /spec\.match\.baggage\[0\].*exactly one of exact, prefix or regex/],
    ['a baggage rule without a key', { workload, match: { baggage: [{ exact: 'a' }] } }, /spec\.match\.baggage\[0\]\.key: Required value/],
    ['a baggage key with a space', { workload, match: { baggage: [{ key: 'detour user', exact: 'a' }] } }, /spec\.match\.baggage\[0\]\.key.*valid baggage key/],
    ['a baggage key with =', { workload, match: { baggage: [{ key: 'a=b', exact: 'a' }] } }, /spec\.match\.baggage\[0\]\.key.*valid baggage key/],
    ['a baggage regex that does not compile', { workload, match: { baggage: [{ key: 'u', regex: 'a(b' }] } }, /spec\.match\.baggage\[0\]\.regex.*valid regular expression/],
    ['a cookie rule with none of exact/prefix/regex', { workload, match: { cookies: [{ name: 'session' }] } }, /spec\.match\.cookies\[0\].*exactly one of exact, prefix or regex/],
    ['a cookie name with ;', { workload, match: { cookies: [{ name: 'a;b', exact: '1' }] } }, /spec\.match\.cookies\[0\]\.name.*valid cookie name/],
    ['a cookie value with ;', { workload, match: { cookies: [{ name: 'u', exact: 'a;b' }] } }, /spec\.match\.cookies\[0\]\.exact.*cookie value is printable ASCII/],
    ['a cookie value with a double quote', { workload, match: { cookies: [{ name: 'u', prefix: 'a"' }] } }, /spec\.match\.cookies\[0\]\.prefix.*cookie value is printable ASCII/],
    ['a non-ASCII cookie value', { workload, match: { cookies: [{ name: 'u', exact: 'José' }] } }, /spec\.match\.cookies\[0\]\.exact.*cookie value is printable ASCII/],
    ['an empty query parameter name', { workload, match: { query: [{ name: '', exact: '1' }] } }, /spec\.match\.query\[0\]\.name/],
    ['a query parameter name with a control character', { workload, match: { query: [{ name: 'a\nb', exact: '1' }] } }, /spec\.match\.query\[0\]\.name.*control characters/],
    ['a query rule with an empty prefix', { workload, match: { query: [{ name: 'u', prefix: '' }] } }, /spec\.match\.query\[0\]\.prefix/],
    ['an empty baggage list as the only condition', { workload, match: { baggage: [] } }, /spec\.match.*needs headers, baggage, cookies, query or pathPrefix/],
  ])('refuses %s, naming the field', async (_name, spec, message) => {
    expect(await refusal(spec)).toMatch(message);
  });

  it('accepts RE2 patterns the sidecar matches in linear time, and path prefixes with dots inside segments', async () => {
    await createIntercept(client, ns, 'redos', { workload, match: { headers: [{ name: 'x', regex: '(a+)+' }] } });
    await createIntercept(client, ns, 'inline-flag', { workload, match: { headers: [{ name: 'x', regex: '(?i)alice' }] } });
    await createIntercept(client, ns, 'dotted', { workload, match: { pathPrefix: '/v1.2/..x/.well-known' } });
  });

  it('accepts baggage, cookie and query rules alone, with space and comma in cookie values and any decoded query value', async () => {
    const i = await createIntercept(client, ns, 'keys', { workload, match: {
      baggage: [{ key: 'detour-user', exact: 'Amélie' }],
      cookies: [{ name: 'detour-user', exact: 'alice smith, jr' }, { name: 'theme', regex: 'dark|light' }],
      query: [{ name: 'détour', prefix: 'a b' }],
    } });
    expect(i.spec.match).toMatchObject({ baggage: [{ key: 'detour-user', exact: 'Amélie' }], query: [{ name: 'détour', prefix: 'a b' }] });
    await createIntercept(client, ns, 'cookie-only', { workload, match: { cookies: [{ name: 'detour-user', exact: '' }] } });
  });

  it('shows the first rule\'s value for exact, prefix and regex rules in kubectl get -o wide', async () => {
    const pns = await createNamespace(kc, 'crd-cols');
    try {
      await createIntercept(client, pns, 'by-exact', { workload, match: alice });
      await createIntercept(client, pns, 'by-prefix', { workload, match: { headers: [{ name: 'x-tenant', prefix: 'team-' }] } });
      await createIntercept(client, pns, 'by-regex', { workload, match: { headers: [{ name: 'x-user', regex: 'ali(ce|son)' }] } });
      const { kubectl } = await ensureControlPlaneBinaries(process.env.KUBEBUILDER_ASSETS, () => {});
      const { stdout } = await promisify(execFile)(kubectl, ['get', 'intercepts', '-n', pns, '-o', 'wide'], { env: { ...process.env } });
      const rows = Object.fromEntries(stdout.trim().split('\n').slice(1).map((l) => { const cells = l.trim().split(/\s+/); return [cells[0], cells]; }));
      expect(rows['by-exact']).toEqual(expect.arrayContaining(['x-detour-user', 'alice']));
      expect(rows['by-prefix']).toEqual(expect.arrayContaining(['x-tenant', 'team-']));
      expect(rows['by-regex']).toEqual(expect.arrayContaining(['x-user', 'ali(ce|son)']));
    } finally {
      await deleteNamespace(kc, pns);
    }
  });

  it('refuses a name too long to be a label value', async () => {
    expect(await refusal({ workload }, `a${'b'.repeat(63)}`)).toMatch(/metadata\.name must be at most 63 characters/);
  });
});
