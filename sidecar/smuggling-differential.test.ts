// The smuggling corpus as a differential test: behind the sidecar sits a second, independent
// HTTP/1.1 parser — nginx (scripts/ensure-deps.mjs installs it) — in front of a recording Node
// app. For every case the sidecar accepts, what nginx framed and passed on is exactly what the
// sidecar framed (the client's answers match the requests completed behind nginx, request for
// request), and no request reaches the app that the client did not write as a request line.
// (hostile.test.ts runs the same corpus with the Node app directly behind the sidecar.)

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findNginx, startNginxProxy, type NginxProxy } from '../test/fixtures/nginx-proxy.js';
import { startRecordingServer, type RecordedRequest, type RecordingServer } from '../test/fixtures/recording-server.js';
import { buildSmugglingCorpus, exchangeCase, ownedBy, planCaseProblems, type CaseOutcome } from '../test/fixtures/smuggling-corpus.js';
import { startHarness, userRoute, type Harness } from '../test/fixtures/sidecar-harness.js';

const nginxBin = findNginx();

describe('smuggling corpus, nginx behind the sidecar', () => {
  // `npm test` installs nginx (scripts/ensure-deps.mjs); without it this suite fails, never skips.
  if (nginxBin === undefined) throw new Error('nginx is not installed: run `npm run setup` (apt-get install nginx)');
  let rh: Harness;
  let app: RecordingServer;
  let nginx: NginxProxy;
  const corpus = buildSmugglingCorpus().filter((c) => !c.bytes.includes('X-Detour-User')); // all to the app side
  const results = new Map<string, CaseOutcome>();
  const seen: RecordedRequest[] = [];

  beforeAll(async () => {
    app = await startRecordingServer();
    nginx = await startNginxProxy(nginxBin!, app.port);
    rh = await startHarness({ ports: [{ name: 'http', appPort: nginx.port, listenPort: 0 }] });
    rh.setRoutes([userRoute('alice', 'alice-token')]);
    for (let i = 0; i < corpus.length; i += 60) {
      await Promise.all(corpus.slice(i, i + 60).map(async (c) => { results.set(c.id, await exchangeCase(rh.proxyPort, c.bytes)); }));
    }
    await new Promise((r) => setTimeout(r, 100));
    seen.push(...app.requests);
  }, 120_000);
  afterAll(async () => { await rh.close(); await nginx.stop(); await app.close(); });

  it('ran the corpus through a live nginx', () => {
    expect(corpus.length).toBeGreaterThan(300);
    expect(seen.length).toBeGreaterThan(50);
  });

  it('never lets a body become a request at the app', () => {
    expect(seen.filter((r) => !corpus.some((c) => ownedBy(r, c.id))).map((r) => r.path)).toEqual([]);
  });

  it.each(corpus.map((c) => [c.id, c] as const))('%s: nginx framed it as the sidecar did', (_id, c) => {
    // nginx implements no transfer coding but chunked alone: `gzip, chunked` gets its 501 (a refusal, no desync).
    expect(planCaseProblems(c, results.get(c.id)!, seen, { refusals: [501] })).toEqual([]);
  });
});
