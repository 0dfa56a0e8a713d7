import { describe, expect, it } from '@jest/globals';
import { expandReferences, formatEnv, planEnvReferences, resolveEnv, type ContainerEnv, type EnvSources, type Fetched } from './env.js';

const sources = (over: Partial<EnvSources> = {}): EnvSources => ({
  configMaps: new Map<string, Fetched>([['app-config', { data: { LOG_LEVEL: 'debug', 'bad name': 'x', URL: 'http://db' } }], ['locked', { error: 'you are not allowed to get configmaps "locked"' }]]),
  secrets: new Map<string, Fetched>([['db', { data: { password: 's3cr3t' } }], ['gone', { error: 'not found' }]]),
  pod: { metadata: { name: 'checkout-1', namespace: 'shop', labels: { app: 'checkout' } }, status: { podIP: '10.0.0.5' } },
  ...over,
});

describe('resolveEnv', () => {
  it.each<[string, ContainerEnv, Partial<EnvSources>, Record<string, string>, Record<string, RegExp>]>([
    ['literal values, with $(VAR) expansion of earlier ones and $$ escapes', { name: 'c', env: [{ name: 'A', value: '1' }, { name: 'B', value: '$(A)-$(MISSING)-$$(A)' }] }, {}, { A: '1', B: '1-$(MISSING)-$(A)' }, {}],
    ['envFrom with a prefix; env overrides envFrom; invalid names skipped', { name: 'c', envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'app-config' } }], env: [{ name: 'CFG_URL', value: 'http://localhost' }] }, {}, { CFG_LOG_LEVEL: 'debug', CFG_URL: 'http://localhost' }, {}],
    ['ConfigMap and Secret keys', { name: 'c', env: [{ name: 'LVL', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'LOG_LEVEL' } } }, { name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }, {}, { LVL: 'debug', PW: 's3cr3t' }, {}],
    ['unreadable and missing references are reported, optional missing ones skipped', { name: 'c', env: [
      { name: 'L', valueFrom: { configMapKeyRef: { name: 'locked', key: 'k' } } },
      { name: 'G', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } },
      { name: 'K', valueFrom: { secretKeyRef: { name: 'db', key: 'user' } } },
    ] }, {}, {}, { L: /ConfigMap locked: you are not allowed/, K: /Secret db has no key user/ }],
    ['field references from a running pod', { name: 'c', env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } }] }, {}, { POD: 'checkout-1', IP: '10.0.0.5', APP: 'checkout' }, {}],
    ['field references without a pod, and resource fields', { name: 'c', env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }] }, { pod: undefined }, {}, { POD: /no running pod/, CPU: /resource field limits.cpu/ }],
    ['an unreadable envFrom', { name: 'c', envFrom: [{ configMapRef: { name: 'locked' } }] }, {}, {}, { '*': /envFrom ConfigMap locked/ }],
  ])('%s', (_n, container, over, vars, unresolved) => {
    const s = sources(over);
    if ('pod' in over && over.pod === undefined) delete s.pod;
    const r = resolveEnv(container, s);
    expect(Object.fromEntries(r.vars.map((v) => [v.name, v.value]))).toEqual(vars);
    expect(r.unresolved.map((u) => u.name).sort()).toEqual(Object.keys(unresolved).sort());
    for (const u of r.unresolved) expect(u.reason).toMatch(unresolved[u.name]!);
  });
});

describe('planEnvReferences', () => {
  it('lists each ConfigMap and Secret once', () => {
    expect(planEnvReferences({ name: 'c', envFrom: [{ configMapRef: { name: 'a' } }, { secretRef: { name: 's' } }], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'a', key: 'k' } } }, { name: 'Y', valueFrom: { secretKeyRef: { name: 't', key: 'k' } } }] }))
      .toEqual({ configMaps: ['a'], secrets: ['s', 't'] });
  });
});

describe('expandReferences', () => {
  it.each([
    ['$(A)/$(B)', 'x/$(B)'],
    ['$$(A)', '$(A)'],
    ['a$b', 'a$b'],
  ])('%s → %s', (v, out) => expect(expandReferences(v, new Map([['A', 'x']]))).toBe(out));
});

describe('formatEnv', () => {
  const env = { vars: [{ name: 'A', value: 'plain' }, { name: 'B', value: "it's \"q\" $HOME\nnext" }], unresolved: [{ name: 'C', reason: 'Secret s: forbidden' }] };
  it.each([
    ['dotenv', 'A=plain\nB="it\'s \\"q\\" \\$HOME\\nnext"\n# C: not resolved (Secret s: forbidden)'],
    ['shell', "export A='plain'\nexport B='it'\\''s \"q\" $HOME\nnext'\n# C: not resolved (Secret s: forbidden)"],
    ['json', JSON.stringify({ env: { A: 'plain', B: "it's \"q\" $HOME\nnext" }, unresolved: { C: 'Secret s: forbidden' } }, null, 2)],
  ] as const)('%s', (format, text) => expect(formatEnv(env, format)).toBe(text));

  it('shell output round-trips through sh', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('sh', ['-c', `${formatEnv({ vars: env.vars, unresolved: [] }, 'shell')}\nprintf %s "$B"`]).toString();
    expect(out).toBe(env.vars[1]!.value);
  });
});
