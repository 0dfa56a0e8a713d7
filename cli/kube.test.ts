import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { buildKube, loadKubeConfig, planKubeconfigFiles } from './kube.js';

const dir = mkdtempSync(join(tmpdir(), 'detour-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, config: Record<string, unknown>): string => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...config }));
  return file;
};
const cluster = (name: string, server: string) => ({ name, cluster: { server } });
const ctx = (name: string, c: string, namespace?: string) => ({ name, context: { cluster: c, user: 'u', ...(namespace ? { namespace } : {}) } });

describe('planKubeconfigFiles', () => {
  it.each([
    [{ kubeconfig: '/flag' }, 'a:b', ['/flag']],
    [{}, `a${delimiter}${delimiter}b`, ['a', 'b']],
    [{}, undefined, ['/home/me/.kube/config']],
    [{}, '', ['/home/me/.kube/config']],
  ])('%j with KUBECONFIG=%s', (flags, env, files) => expect(planKubeconfigFiles({ flags, kubeconfigEnv: env, homeDir: '/home/me' })).toEqual(files));
});

describe('loadKubeConfig', () => {
  const first = write('first', { 'current-context': 'dev', clusters: [cluster('dev', 'https://dev:6443')], users: [{ name: 'u', user: { token: 't' } }], contexts: [ctx('dev', 'dev', 'shop')] });
  const second = write('second', { 'current-context': 'prod', clusters: [cluster('dev', 'https://other:6443'), cluster('prod', 'https://prod:6443')], users: [{ name: 'u', user: { token: 'x' } }], contexts: [ctx('prod', 'prod')] });

  it('merges a KUBECONFIG list like kubectl: the first file wins', () => {
    const kc = loadKubeConfig({ flags: {}, kubeconfigEnv: [first, second].join(delimiter), homeDir: dir });
    expect(kc.currentContext).toBe('dev');
    expect(kc.getCurrentCluster()?.server).toBe('https://dev:6443');
    const kube = buildKube(kc, undefined);
    expect(kube.namespace).toBe('shop');
    expect(buildKube(kc, 'other').namespace).toBe('other');
  });

  it('--context picks another context; its namespace defaults to "default"', () => {
    const kc = loadKubeConfig({ flags: { context: 'prod' }, kubeconfigEnv: [first, second].join(delimiter), homeDir: dir });
    expect(kc.getCurrentCluster()?.server).toBe('https://prod:6443');
    expect(buildKube(kc, undefined).namespace).toBe('default');
  });

  it.each([
    ['no file at all', { flags: {}, kubeconfigEnv: join(dir, 'nope'), homeDir: dir }, /no cluster configured: .*nope does not exist/],
    ['an unknown context', { flags: { context: 'staging' }, kubeconfigEnv: first, homeDir: dir }, /no context "staging" .*\(contexts: dev\)/],
    ['no current context', { flags: {}, kubeconfigEnv: write('nocurrent', { clusters: [cluster('a', 'https://a')], users: [], contexts: [ctx('a', 'a')] }), homeDir: dir }, /no current context/],
    ['a context without its cluster', { flags: {}, kubeconfigEnv: write('dangling', { 'current-context': 'a', clusters: [], users: [], contexts: [ctx('a', 'missing')] }), homeDir: dir }, /names no cluster/],
  ])('explains %s', (_n, source, message) => {
    expect(() => loadKubeConfig(source)).toThrow(message);
  });
});
