import { describe, expect, it } from '@jest/globals';
import { parseCommandLine } from './args.js';

describe('parseCommandLine', () => {
  it.each([
    ['intercept with the README flags', ['intercept', 'checkout', '-n', 'shop', '--header', 'x-detour-user=alice', '--to', 'localhost:3000'], {
      kind: 'intercept', cluster: { namespace: 'shop' }, workload: { kind: 'Deployment', name: 'checkout' }, target: 'http://localhost:3000', port: 'http',
      headers: [{ name: 'x-detour-user', exact: 'alice' }], mode: 'Steal', keep: false,
    }],
    ['every intercept option', ['intercept', 'sts/orders', '--header', 'X-Tenant^=test-', '--header', 'x-v~=v[0-9]+', '--path-prefix', '/api', '--port', '8080', '--mode', 'mirror', '--ttl', '2h', '--name', 'mine', '--owner', 'bob', '--keep', '--via', 'ws://{podIP}:{port}/tunnel', '--timeout', '30s', '--drain-timeout', '30s', '--to', '3000', '--context', 'dev'], {
      kind: 'intercept', cluster: { context: 'dev' }, workload: { kind: 'StatefulSet', name: 'orders' }, target: 'http://localhost:3000', port: 8080,
      headers: [{ name: 'x-tenant', prefix: 'test-' }, { name: 'x-v', regex: 'v[0-9]+' }], pathPrefix: '/api', mode: 'Mirror', ttl: '2h', name: 'mine', owner: 'bob',
      keep: true, via: 'ws://{podIP}:{port}/tunnel', timeoutMs: 30_000, drainMs: 30_000,
    }],
    ['intercept drains for 10s by default', ['intercept', 'checkout', '--to', '3000'], { kind: 'intercept', drainMs: 10_000 }],
    ['connect', ['connect', 'alice-checkout', '--to', 'http://127.0.0.1:8080'], { kind: 'connect', name: 'alice-checkout', target: 'http://127.0.0.1:8080', drainMs: 10_000 }],
    ['connect that closes at once', ['connect', 'x', '--to', '3000', '--drain-timeout', '0'], { kind: 'connect', drainMs: 0 }],
    ['list -o json -A', ['list', '-o', 'json', '-A'], { kind: 'list', output: 'json', allNamespaces: true }],
    ['list defaults to a table', ['list'], { kind: 'list', output: 'table', allNamespaces: false }],
    ['list -o wide', ['list', '-o', 'wide'], { kind: 'list', output: 'wide', allNamespaces: false }],
    ['an RE2 regex JavaScript would refuse (inline flag)', ['intercept', 'a', '--header', 'x~=(?i)alice', '--to', '3000'], { kind: 'intercept', headers: [{ name: 'x', regex: '(?i)alice' }] }],
    ['baggage, cookie and query rules', ['intercept', 'backend', '--baggage', 'detour-user=alice', '--cookie', 'session^=dev-', '--query', 'v~=[0-9]+', '--cookie', 'theme=dark mode', '--to', '3000'], {
      kind: 'intercept', headers: [], baggage: [{ key: 'detour-user', exact: 'alice' }], cookies: [{ name: 'session', prefix: 'dev-' }, { name: 'theme', exact: 'dark mode' }], query: [{ name: 'v', regex: '[0-9]+' }],
    }],
    ['baggage keys and cookie names keep their case', ['intercept', 'a', '--baggage', 'UserId=A', '--cookie', 'SID=x', '--to', '3000'], { kind: 'intercept', baggage: [{ key: 'UserId', exact: 'A' }], cookies: [{ name: 'SID', exact: 'x' }] }],
    ['status', ['status', 'x', '--kubeconfig', '/k'], { kind: 'status', name: 'x', cluster: { kubeconfig: '/k' } }],
    ['leave', ['leave', 'x'], { kind: 'leave', name: 'x' }],
    ['version asks the cluster too', ['version', '-n', 'shop'], { kind: 'version', cluster: { namespace: 'shop' }, client: false }],
    ['version --client stays local', ['version', '--client'], { kind: 'version', client: true }],
    ['--version is the CLI only', ['--version'], { kind: 'version', client: true }],
    ['env with container and format', ['env', 'deploy/checkout', '-c', 'app', '--format', 'shell'], { kind: 'env', workload: { kind: 'Deployment', name: 'checkout' }, container: 'app', format: 'shell' }],
    ['help for a command', ['intercept', '--help'], { kind: 'help', topic: 'intercept' }],
    ['help topic', ['help', 'env'], { kind: 'help', topic: 'env' }],
    ['no arguments is help', [], { kind: 'help' }],
    ['run: everything after -- is the command, its flags included', ['run', 'checkout', '-n', 'shop', '--forward', '6379:redis:6379', '--forward', 'db.data:5432', '--', 'redis-cli', '-n', '2', '--', 'x'], {
      kind: 'run', cluster: { namespace: 'shop' }, workload: { kind: 'Deployment', name: 'checkout' }, command: ['redis-cli', '-n', '2', '--', 'x'],
      local: { forwards: [{ localPort: 6379, target: { host: 'redis', port: 6379 } }, { localPort: 5432, target: { host: 'db.data', port: 5432 } }], byName: true }, keep: false,
    }],
    ['run with proxy ports and without the by-name path', ['run', 'checkout', '--socks-port', '1080', '--http-proxy-port', '0', '--no-by-name', '-c', 'app', '--', 'env'], {
      kind: 'run', container: 'app', command: ['env'], local: { forwards: [], socksPort: 1080, httpProxyPort: 0, byName: false },
    }],
    ['intercept -- COMMAND', ['intercept', 'checkout', '--to', '3000', '--', 'npm', 'start'], { kind: 'intercept', command: ['npm', 'start'], local: { forwards: [], byName: true } }],
  ])('%s', (_name, argv, expected) => {
    const r = parseCommandLine(argv);
    expect(r).toMatchObject({ ok: true, command: expected });
  });

  it.each([
    ['unknown command', ['intrcept'], /unknown command "intrcept"/],
    ['run without a command', ['run', 'checkout'], /missing -- COMMAND/],
    ['run with nothing after --', ['run', 'checkout', '--'], /nothing after --/],
    ['a bad --forward', ['run', 'checkout', '--forward', 'redis', '--', 'x'], /--forward redis: use \[LOCALPORT:\]HOST:PORT/],
    ['a command after -- where none is taken', ['list', '--', 'x'], /takes no command after --/],
    ['--forward on intercept without a command', ['intercept', 'checkout', '--to', '3000', '--forward', 'redis:6379'], /apply to the command after --/],
    ['missing --to', ['intercept', 'checkout', '--header', 'a=b'], /missing --to/],
    ['missing workload', ['intercept', '--to', '3000'], /missing WORKLOAD/],
    ['two workloads', ['intercept', 'a', 'b', '--to', '3000'], /unexpected argument "b"/],
    ['header without value', ['intercept', 'a', '--header', 'x-user', '--to', '3000'], /expected NAME=VALUE/],
    ['header with an empty value', ['intercept', 'a', '--header', 'x-user=', '--to', '3000'], /value is empty/],
    ['bad header name', ['intercept', 'a', '--header', 'x user=1', '--to', '3000'], /not a valid HTTP header name/],
    ['bad regex', ['intercept', 'a', '--header', 'x~=(', '--to', '3000'], /not a valid RE2 regular expression/],
    ['a regex RE2 refuses (lookahead), as the API server would', ['intercept', 'a', '--header', 'x~=(?=a)a', '--to', '3000'], /not a valid RE2 regular expression/],
    ['path prefix with a dot segment', ['intercept', 'a', '--path-prefix', '/x/../api', '--to', '3000'], /no \. or \.\. segments/],
    ['path prefix with a query', ['intercept', 'a', '--path-prefix', '/api?x', '--to', '3000'], /without \? or #/],
    ['baggage without value', ['intercept', 'a', '--baggage', 'detour-user', '--to', '3000'], /--baggage detour-user: expected KEY=VALUE/],
    ['baggage key with a space', ['intercept', 'a', '--baggage', 'detour user=1', '--to', '3000'], /not a valid baggage key/],
    ['baggage regex RE2 refuses', ['intercept', 'a', '--baggage', 'u~=(?=a)a', '--to', '3000'], /--baggage .*not a valid RE2 regular expression/],
    ['cookie name with =', ['intercept', 'a', '--cookie', '=x', '--to', '3000'], /--cookie =x: expected NAME=VALUE/],
    ['cookie name with a space', ['intercept', 'a', '--cookie', 'my cookie=x', '--to', '3000'], /not a valid cookie name/],
    ['cookie value with ;', ['intercept', 'a', '--cookie', 'u=a;b', '--to', '3000'], /cookie value is printable ASCII/],
    ['non-ASCII cookie value', ['intercept', 'a', '--cookie', 'u=José', '--to', '3000'], /percent-encode it yourself/],
    ['query with an empty value', ['intercept', 'a', '--query', 'u=', '--to', '3000'], /--query u=: the value is empty/],
    ['bad mode', ['intercept', 'a', '--mode', 'copy', '--to', '3000'], /--mode copy/],
    ['bad ttl', ['intercept', 'a', '--ttl', '2 hours', '--to', '3000'], /--ttl 2 hours/],
    ['ttl under a second', ['intercept', 'a', '--ttl', '500ms', '--to', '3000'], /at least 1s/],
    ['bad drain timeout', ['connect', 'x', '--to', '3000', '--drain-timeout', 'soon'], /--drain-timeout soon: expected a duration/],
    ['target with a path', ['intercept', 'a', '--to', 'localhost:3000/api'], /only host and port/],
    ['https target', ['intercept', 'a', '--to', 'https://localhost:3000'], /only http:\/\//],
    ['target without port', ['intercept', 'a', '--to', 'localhost'], /name the port/],
    ['path prefix without slash', ['intercept', 'a', '--path-prefix', 'api', '--to', '3000'], /must start with \//],
    ['unsupported kind', ['intercept', 'job/x', '--to', '3000'], /unsupported workload kind "job"/],
    ['unknown flag', ['list', '--wide'], /Unknown option '--wide'/],
    ['bad output', ['list', '-o', 'name'], /-o name: use table, wide, json or yaml/],
    ['bad env format', ['env', 'x', '--format', 'yaml'], /--format yaml/],
    ['bad namespace', ['list', '-n', 'Shop'], /not a namespace name/],
    ['port out of range', ['intercept', 'a', '--port', '70000', '--to', '3000'], /1-65535/],
    ['bad --via', ['connect', 'a', '--to', '3000', '--via', 'tcp://x'], /--via tcp:\/\/x/],
  ])('refuses %s', (_name, argv, message) => {
    const r = parseCommandLine(argv);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});
