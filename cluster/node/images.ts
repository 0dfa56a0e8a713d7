// The test node's "images": a container image becomes a local program. Pure.
import { join } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';

export interface ContainerCommand {
  command: string;
  args: string[];
}

/** An image resolver returns the program to run, or a string saying why it cannot run the container. */
export type ImageResolver = (container: V1Container) => ContainerCommand | string;
export type ImageMap = Record<string, ImageResolver>;

/** `ghcr.io/detour-dev/detour:1.2@sha256:…` → `detour-dev/detour`; `detour/echo:latest` → `detour/echo`. */
export function imageRepository(image: string): string {
  let ref = image.split('@')[0]!;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const parts = ref.split('/');
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) parts.shift();
  return parts.join('/');
}

/** `…/detour:0.1.0@sha256:…` → `0.1.0`; undefined without a tag. */
export function imageTag(image: string): string | undefined {
  const ref = image.split('@')[0]!;
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(colon + 1) : undefined;
}

/** Programs the Detour image ships besides node (the iptables init container runs `/bin/sh -c …`). */
const IMAGE_TOOLS = new Set(['/bin/sh', 'sh', 'iptables', '/sbin/iptables', '/usr/sbin/iptables', 'ip']);
export const DETOUR_COMPONENTS = ['operator', 'webhook', 'sidecar'] as const;

/**
 * The default map: `detour/echo` runs the echo fixture, `detour/grpc-echo` the grpc-js Echo server, `detour/test-webhook` a TLS admission
 * responder, `detour/shell` the container's command; any image whose repository ends in `detour`
 * runs the component its first argument names from the built `dist/` folder — of the previous
 * release `release(tag)` names for the image's tag, if it names one (cluster/node/releases.ts).
 */
export function defaultImageMap(repoRoot: string, nodeBinary = process.execPath, release: (version: string) => string | undefined = () => undefined): ImageMap {
  const dist = (...p: string[]) => join(repoRoot, 'dist', ...p);
  const detour: ImageResolver = (c) => {
    if (c.command && c.command.length > 0) {
      const [cmd, ...rest] = c.command;
      if (!IMAGE_TOOLS.has(cmd!)) return `the detour image has no program ${cmd}`;
      return { command: cmd!, args: [...rest, ...(c.args ?? [])] };
    }
    const [component, ...rest] = c.args ?? [];
    if (!DETOUR_COMPONENTS.includes(component as (typeof DETOUR_COMPONENTS)[number])) {
      return `the detour image runs one of ${DETOUR_COMPONENTS.join(', ')} (its first argument), not ${component ?? 'nothing'}`;
    }
    // `…/detour:0.1.0` runs that release's build when one was built (the upgrade test), else the working tree.
    const root = release(imageTag(c.image ?? '') ?? '');
    return { command: nodeBinary, args: [root ? join(root, 'dist', component!, 'main.js') : dist(component!, 'main.js'), ...rest] };
  };
  // Debian's redis-server, as the official image runs it (no persistence: the test node has no image layers to keep it in).
  const redis: ImageResolver = (c) => ({
    command: 'redis-server',
    args: c.args?.length ? c.args : ['--port', '6379', '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
  });
  return {
    'detour/demo-frontend': () => ({ command: nodeBinary, args: [dist('test', 'fixtures', 'demo-service-main.js')] }),
    'detour/demo-middle': () => ({ command: nodeBinary, args: [dist('test', 'fixtures', 'demo-service-main.js')] }),
    'detour/demo-backend': () => ({ command: nodeBinary, args: [dist('test', 'fixtures', 'demo-service-main.js')] }),
    'detour/test-webhook': (c) => ({ command: nodeBinary, args: [dist('test', 'fixtures', 'test-webhook-main.js'), ...(c.args ?? [])] }),
    // A stand-in for a shell image (busybox): runs the container's command with the host's tools.
    'detour/shell': (c) => {
      const [cmd, ...rest] = [...(c.command ?? []), ...(c.args ?? [])];
      return cmd ? { command: cmd === 'node' ? nodeBinary : cmd, args: rest } : 'the detour/shell image needs a command';
    },
    redis,
    'library/redis': redis,
    'detour/echo': (c) => ({ command: nodeBinary, args: [dist('test', 'fixtures', 'echo-main.js'), ...(c.args ?? [])] }),
    'detour/grpc-echo': (c) => ({ command: nodeBinary, args: [dist('test', 'fixtures', 'grpc-echo-main.js'), ...(c.args ?? [])] }),
    detour,
  };
}

export function resolveImage(map: ImageMap, container: V1Container): ContainerCommand | string {
  const image = container.image ?? '';
  const repo = imageRepository(image);
  const resolver = map[repo] ?? (repo.endsWith('/detour') ? map.detour : undefined);
  if (!resolver) return `image ${image} is not in the test node's image map (${Object.keys(map).join(', ')})`;
  return resolver(container);
}
