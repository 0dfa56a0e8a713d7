// The control channel's serving certificate, read from the serving Secret (`kubernetes.io/tls`)
// that the certificate manager (or cert-manager) keeps, on every replica: the leader and its
// standbys alike, so a new leader serves TLS at once. Polled; a changed pair that loads is handed
// over, anything else keeps the previous one.

import { createSecureContext } from 'node:tls';
import type { Logger } from '../../core/logging.js';
import { classifyApiError, describeApiError } from '../../core/errors.js';
import { resourcePath, type KubeClient } from '../../core/kube/client.js';
import type { KeyPairPem } from '../../core/tls/certificates.js';

export interface ServingSecretSource {
  /** Reads the Secret now; resolves with the pair when it changed and loads. */
  check(): Promise<KeyPairPem | undefined>;
  current(): KeyPairPem | undefined;
  stop(): void;
}

interface TlsSecret { data?: Record<string, string> }

/** The pair in a Secret's data (base64), when both halves are there and load together. Pure. */
export function readServingPair(secret: TlsSecret | undefined): KeyPairPem | { error: string } {
  const cert = secret?.data?.['tls.crt'];
  const key = secret?.data?.['tls.key'];
  if (!cert || !key) return { error: 'tls.crt or tls.key missing' };
  const pair = { certPem: Buffer.from(cert, 'base64').toString('utf8'), keyPem: Buffer.from(key, 'base64').toString('utf8') };
  try {
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
  } catch (err) {
    return { error: err instanceof Error ? err.message.split('\n')[0]! : 'does not load' };
  }
  return pair;
}

export function startServingSecretSource(o: { client: KubeClient; namespace: string; name: string; logger: Logger; intervalMs?: number; onChange: (pair: KeyPairPem) => void }): ServingSecretSource {
  let current: KeyPairPem | undefined;
  let lastError: string | undefined;
  const object = `${o.namespace}/${o.name}`;
  const warn = (reason: string, fields: Record<string, unknown> = {}) => {
    if (reason !== lastError) o.logger.warn({ secret: object, reason, ...fields }, `Could not load the control channel certificate from secret ${object}; keeping the previous one`);
    lastError = reason;
  };
  const check = async (): Promise<KeyPairPem | undefined> => {
    let secret: TlsSecret | undefined;
    try {
      secret = await o.client.request<TlsSecret>('GET', resourcePath('', 'v1', 'secrets', o.namespace, o.name));
    } catch (err) {
      if (classifyApiError(err) !== 'not-found') { warn('read failed', describeApiError(err)); return undefined; }
    }
    const pair = readServingPair(secret);
    if ('error' in pair) { warn(secret ? pair.error : 'not found yet'); return undefined; }
    lastError = undefined;
    if (current && current.certPem === pair.certPem && current.keyPem === pair.keyPem) return undefined;
    current = pair;
    o.logger.info({ secret: object }, `Loaded the control channel certificate from secret ${object}`);
    o.onChange(pair);
    return pair;
  };
  const timer = setInterval(() => void check(), o.intervalMs ?? 10_000);
  timer.unref();
  return { check, current: () => current, stop: () => clearInterval(timer) };
}
