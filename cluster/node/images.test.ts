import { describe, expect, it } from '@jest/globals';
import { defaultImageMap, imageRepository, imageTag, resolveImage } from './images.js';

describe('imageRepository', () => {
  it.each([
    ['detour/echo', 'detour/echo'],
    ['detour/echo:latest', 'detour/echo'],
    ['ghcr.io/detour-dev/detour:0.1.0', 'detour-dev/detour'],
    ['localhost:5000/detour@sha256:abc', 'detour'],
    ['nginx', 'nginx'],
  ])('%s → %s', (image, repo) => expect(imageRepository(image)).toBe(repo));
});

describe('resolveImage with the default map', () => {
  const map = defaultImageMap('/repo', '/usr/bin/node');
  it('runs the component named by the first argument of the detour image', () => {
    expect(resolveImage(map, { name: 's', image: 'ghcr.io/detour-dev/detour:latest', args: ['sidecar', '--x'] })).toEqual({ command: '/usr/bin/node', args: ['/repo/dist/sidecar/main.js', '--x'] });
  });
  it('runs the shell the iptables init container asks for', () => {
    expect(resolveImage(map, { name: 'i', image: 'ghcr.io/detour-dev/detour:latest', command: ['/bin/sh', '-c'], args: ['iptables -L'] })).toEqual({ command: '/bin/sh', args: ['-c', 'iptables -L'] });
  });
  it('runs the echo fixtures', () => {
    expect(resolveImage(map, { name: 'e', image: 'detour/echo' })).toEqual({ command: '/usr/bin/node', args: ['/repo/dist/test/fixtures/echo-main.js'] });
    expect(resolveImage(map, { name: 'g', image: 'detour/grpc-echo:1' })).toEqual({ command: '/usr/bin/node', args: ['/repo/dist/test/fixtures/grpc-echo-main.js'] });
  });
  it('runs Debian\'s redis-server for the redis image, with the container\'s args when it has some', () => {
    expect(resolveImage(map, { name: 'r', image: 'docker.io/library/redis:7' })).toMatchObject({ command: 'redis-server', args: expect.arrayContaining(['--port', '6379', '--bind', '0.0.0.0']) });
    expect(resolveImage(map, { name: 'r', image: 'redis', args: ['--port', '7000'] })).toEqual({ command: 'redis-server', args: ['--port', '7000'] });
  });
  it('says why it cannot run an unknown image or component', () => {
    expect(resolveImage(map, { name: 'n', image: 'nginx:1.27' })).toMatch(/image nginx:1.27 is not in the test node's image map/);
    expect(resolveImage(map, { name: 'd', image: 'detour', args: ['bogus'] })).toMatch(/runs one of operator, webhook, sidecar/);
  });
});

describe('a previous release in the image map (the upgrade test)', () => {
  const map = defaultImageMap('/repo', '/usr/bin/node', (tag) => (tag === '0.1.0' ? '/cache/releases/c6bc' : undefined));
  it('runs …/detour:0.1.0 from that release, any other tag from the working tree', () => {
    expect(resolveImage(map, { name: 's', image: 'ghcr.io/detour-dev/detour:0.1.0', args: ['sidecar'] })).toEqual({ command: '/usr/bin/node', args: ['/cache/releases/c6bc/dist/sidecar/main.js'] });
    expect(resolveImage(map, { name: 's', image: 'ghcr.io/detour-dev/detour:0.2.0', args: ['operator'] })).toEqual({ command: '/usr/bin/node', args: ['/repo/dist/operator/main.js'] });
    expect(resolveImage(map, { name: 's', image: 'ghcr.io/detour-dev/detour', args: ['webhook'] })).toEqual({ command: '/usr/bin/node', args: ['/repo/dist/webhook/main.js'] });
  });
  it('reads the tag', () => {
    expect(['a/detour:0.1.0', 'localhost:5000/detour', 'x/detour:1@sha256:ab'].map(imageTag)).toEqual(['0.1.0', undefined, '1']);
  });
});
