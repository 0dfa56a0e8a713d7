import { describe, expect, it } from '@jest/globals';
import { planVolumeFiles, planVolumeReferences, type FetchedObject, type VolumeJson, type VolumeMountJson } from './volume-files.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const binary = Buffer.from([0, 255, 10, 13, 128]);
const configMaps = new Map<string, FetchedObject>([['app-config', { object: { data: { 'app.yaml': 'port: 8080\n' }, binaryData: { 'logo.bin': b64(binary) } } }]]);
const secrets = new Map<string, FetchedObject>([['db', { object: { data: { password: b64('s3cr€t\n'), key: b64(binary) } } }], ['gone', { error: 'not found' }]]);
const pod = { metadata: { name: 'checkout-1', namespace: 'shop', labels: { app: 'checkout' } } };

const volumes: VolumeJson[] = [
  { name: 'config', configMap: { name: 'app-config' } },
  { name: 'creds', secret: { secretName: 'db', items: [{ key: 'password', path: 'db/password' }] } },
  { name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
  { name: 'all', projected: { sources: [{ configMap: { name: 'app-config', items: [{ key: 'app.yaml', path: 'app.yaml' }] } }, { secret: { name: 'db' } }, { serviceAccountToken: { path: 'token' } }] } },
  { name: 'opt', secret: { secretName: 'gone', optional: true } },
  { name: 'scratch' } as VolumeJson,
];
const mounts: VolumeMountJson[] = [
  { name: 'config', mountPath: '/etc/app' }, { name: 'creds', mountPath: '/var/run/creds/' }, { name: 'info', mountPath: '/etc/podinfo' },
  { name: 'all', mountPath: '/projected' }, { name: 'opt', mountPath: '/opt' }, { name: 'scratch', mountPath: '/tmp/x' },
  { name: 'config', mountPath: '/etc/one.yaml', subPath: 'app.yaml' },
];

describe('planVolumeFiles', () => {
  const plan = planVolumeFiles(volumes, mounts, { configMaps, secrets, pod });
  const file = (p: string) => plan.files.find((f) => f.path === p);

  it('writes every key of a ConfigMap, data as UTF-8 and binaryData as its bytes', () => {
    expect(file('etc/app/app.yaml')).toEqual({ path: 'etc/app/app.yaml', content: Buffer.from('port: 8080\n'), mode: 0o644 });
    expect(file('etc/app/logo.bin')!.content.equals(binary)).toBe(true);
  });
  it('writes Secret values decoded, byte for byte, mode 0600, at the items path', () => {
    expect(file('var/run/creds/db/password')).toEqual({ path: 'var/run/creds/db/password', content: Buffer.from('s3cr€t\n'), mode: 0o600 });
    expect(file('var/run/creds/key')).toBeUndefined();
  });
  it('resolves downwardAPI and projected sources, and says what it leaves out', () => {
    expect(file('etc/podinfo/name')!.content.toString()).toBe('checkout-1');
    expect(file('projected/app.yaml')!.mode).toBe(0o644);
    expect(file('projected/key')).toMatchObject({ mode: 0o600 });
    expect(file('projected/key')!.content.equals(binary)).toBe(true);
    expect(plan.skipped).toEqual([{ mountPath: '/projected', reason: 'token: service account tokens are not copied to the laptop' }]);
  });
  it('mounts one key at a subPath', () => expect(file('etc/one.yaml')!.content.toString()).toBe('port: 8080\n'));
  it('reports an unreadable Secret unless optional', () => {
    const p = planVolumeFiles([{ name: 'v', secret: { secretName: 'gone' } }], [{ name: 'v', mountPath: '/s' }], { configMaps, secrets });
    expect(p).toEqual({ files: [], skipped: [{ mountPath: '/s', reason: 'Secret gone: not found' }] });
  });
  it('refuses paths that climb out of the mount', () => {
    const p = planVolumeFiles([{ name: 'v', configMap: { name: 'app-config', items: [{ key: 'app.yaml', path: '../../etc/passwd' }] } }], [{ name: 'v', mountPath: '/c' }], { configMaps, secrets });
    expect(p.files).toEqual([]);
    expect(p.skipped[0]!.reason).toMatch(/unsafe path/);
  });
  it('lists what to fetch, only for mounted volumes', () => {
    expect(planVolumeReferences(volumes, mounts.slice(0, 2))).toEqual({ configMaps: ['app-config'], secrets: ['db'] });
  });
});
