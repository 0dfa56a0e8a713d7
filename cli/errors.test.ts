import { describe, expect, it } from '@jest/globals';
import { explainKubeError, explainLocalFailure } from './errors.js';
import { backoffDelay } from '../core/backoff.js';
import { describeRefusal, TUNNEL_BACKOFF } from './tunnel-plan.js';

const status = (code: number, message: string, reason = 'Forbidden') => ({ code, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }) });

describe('explainKubeError', () => {
  const create = { verb: 'create' as const, resource: 'intercepts.detour.dev', namespace: 'shop', name: 'alice-checkout', server: 'https://k8s:6443' };
  it.each([
    ['403 names verb, resource and namespace', status(403, 'intercepts.detour.dev "alice-checkout" is forbidden: User "bob" cannot create resource "intercepts"'), create,
      /^you are not allowed to create intercepts\.detour\.dev "alice-checkout" in namespace shop \(403 Forbidden\): .*User "bob" cannot create.* Ask your cluster admin for "create" on "intercepts\.detour\.dev"\.$/],
    ['401', { code: 401, body: '' }, create, /did not accept your credentials \(401 Unauthorized\)/],
    ['404 of an object', status(404, 'not found', 'NotFound'), { verb: 'get' as const, resource: 'deployments.apps', namespace: 'shop', name: 'x' }, /^deployments\.apps "x" not found in namespace shop$/],
    ['404 of a resource type the server does not serve', { code: 404, body: '404 page not found' }, { verb: 'list' as const, resource: 'intercepts.detour.dev' }, /does not serve intercepts\.detour\.dev/],
    ['422 with the API server message', status(422, 'Intercept.detour.dev "x" is invalid: spec.ttl: must be a duration', 'Invalid'), create, /refused the intercepts\.detour\.dev in namespace shop \(422 Invalid\): .*spec\.ttl/],
    ['429', { code: 429, body: '' }, create, /throttling/],
    ['an admission webhook refusal is printed as the API server sent it', status(403, 'admission webhook "intercepts.detour.dev" denied the request: Intercept shop/a: denied by InterceptPolicy shop/devs (rule modes): mode Mirror is not allowed (allowed: Steal)', 'Forbidden'), create,
      /^admission webhook "intercepts\.detour\.dev" denied the request: Intercept shop\/a: denied by InterceptPolicy shop\/devs \(rule modes\): mode Mirror is not allowed \(allowed: Steal\)$/],
    ['500', status(500, 'etcd down', 'InternalError'), create, /^create intercepts\.detour\.dev "alice-checkout" in namespace shop failed with HTTP 500: etcd down$/],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 1.2.3.4:6443'), { code: 'ECONNREFUSED' }), create, /^cannot reach the Kubernetes API server at https:\/\/k8s:6443 \(connection refused\): is the cluster running/],
    ['an untrusted certificate', Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), create, /\(untrusted self-signed certificate\)/],
    ['an unknown network error', new Error('socket hang up\nmore'), create, /\(socket hang up\)/],
  ])('%s', (_n, err, action, message) => expect(explainKubeError(err, action)).toMatch(message));

  it('never includes a body that is not a Status (it may hold anything)', () => {
    expect(explainKubeError({ code: 500, body: 'secret-ish <html>' }, create)).not.toMatch(/secret-ish/);
  });
});

describe('explainLocalFailure', () => {
  it.each([
    ['local server unreachable: ECONNREFUSED', /^nothing is listening on localhost:3000 \(connection refused\)/],
    ['local server unreachable: ENOTFOUND', /cannot resolve localhost/],
    ['local server unreachable: ECONNRESET', /closed the connection/],
    ['local server unreachable: EPIPE', /localhost:3000 unreachable: EPIPE/],
    ['cancelled by the sidecar', undefined],
    [undefined, undefined],
  ])('%s', (error, message) => {
    const r = explainLocalFailure(error, 'http://localhost:3000');
    if (message === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(message);
  });
});

describe('describeRefusal', () => {
  it.each([
    [403, 'token matches no intercept on this pod', /sidecar does not route this Intercept/, true],
    [401, 'no token', /sidecar saw no token/, false],
    [403, JSON.stringify({ kind: 'Status', message: 'pods "x" is forbidden: User "bob" cannot get resource "pods/proxy"' }), /API server does not let you open the pod proxy \(403\).*Ask for "get" on "pods\/proxy"/, false],
    [401, JSON.stringify({ kind: 'Status', message: 'Unauthorized' }), /API server did not accept your credentials/, false],
    [503, JSON.stringify({ kind: 'Status', message: 'no endpoints' }), /API server answered 503: no endpoints/, false],
  ])('%s %s', (code, reason, message, refresh) => {
    const r = describeRefusal(code, reason);
    expect(r.message).toMatch(message);
    expect(r.refreshToken).toBe(refresh);
  });
});

describe('TUNNEL_BACKOFF', () => {
  it.each([
    [0, 1, 500], [1, 1, 1000], [3, 1, 4000], [10, 1, 15_000], [50, 1, 15_000], [2, 0, 100], [2, 0.5, 1000],
  ])('attempt %s, random %s → %s ms', (attempt, r, ms) => expect(backoffDelay(attempt, { ...TUNNEL_BACKOFF, random: () => r })).toBe(ms));
});
