// Serving certificate from mounted files (the Secret written by the operator's certificate
// manager or by cert-manager). kubelet swaps a Secret volume's files atomically some time after the
// Secret changes; we poll (fs.watch on symlink swaps is unreliable) and hand over a changed pair
// only when it loads.

import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../core/logging.js';
import type { KeyPairPem } from '../core/tls/certificates.js';

export interface CertificateFileOptions {
  certPath: string;
  keyPath: string;
  intervalMs?: number;
  logger: Logger;
  onChange: (pair: KeyPairPem) => void;
}

export interface CertificateFileWatcher {
  /** Reads the files now; resolves with the pair if it changed and loaded. */
  check(): Promise<KeyPairPem | undefined>;
  current(): KeyPairPem | undefined;
  stop(): void;
}

export async function fetchCertificateFiles(certPath: string, keyPath: string): Promise<KeyPairPem> {
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  createSecureContext({ cert: certPem, key: keyPem }); // throws on a mismatched or garbled pair
  return { certPem, keyPem };
}

export function startCertificateFileWatcher(o: CertificateFileOptions): CertificateFileWatcher {
  let current: KeyPairPem | undefined;
  let lastError: string | undefined;
  const check = async () => {
    try {
      const pair = await fetchCertificateFiles(o.certPath, o.keyPath);
      lastError = undefined;
      if (current && pair.certPem === current.certPem && pair.keyPem === current.keyPem) return undefined;
      current = pair;
      o.logger.info({ path: o.certPath }, `Loaded serving certificate from ${o.certPath}`);
      o.onChange(pair);
      return pair;
    } catch (err) {
      const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      if (message !== lastError) o.logger.warn({ path: o.certPath, reason: message }, `Failed to load serving certificate from ${o.certPath}; keeping the previous one`);
      lastError = message;
      return undefined;
    }
  };
  const timer = setInterval(() => void check(), o.intervalMs ?? 10_000);
  timer.unref();
  return { check, current: () => current, stop: () => clearInterval(timer) };
}
