// What the webhook injected into a pod, recorded as JSON in the INJECTED_ANNOTATION. Readers: the
// CLI (the workload, the sidecar container's name and the tunnel port, which moves when the app
// already uses 15021) and the operator (which ports the sidecar took over, for PortNotTakenOver).
// The webhook only checks that the annotation is present (re-invocation stays idempotent); the
// other fields are for people reading the pod (`kubectl get pod -o yaml`).

import type { TakenOverPort } from './sidecar-config.js';
import { imageVersion } from './version/release.js';

/** Pod annotation: extra container port names to take over, comma separated (`http,grpc`). */
export const PORTS_ANNOTATION = 'detour.dev/ports';

export const INJECTION_RECORD_VERSION = 1;

export interface RenamedPort {
  /** The app container that owned the port. */
  container: string;
  /** Its name before the takeover (now the sidecar's port name). */
  from: string;
  /** Its name after the takeover (`dt-http`). */
  to: string;
  containerPort: number;
}

export interface InjectionRecord {
  version: number;
  /** Name of the injected sidecar container. */
  sidecar: string;
  /** true: an init container with `restartPolicy: Always` (native sidecar); false: a regular container. */
  native: boolean;
  /** `Kind/name` of the owning workload, as given to the sidecar. */
  workload: string;
  /** Ports whose traffic now reaches the sidecar first. */
  ports: TakenOverPort[];
  renamed: RenamedPort[];
  /** Numeric ports redirected by the iptables init container (empty when not opted in). */
  redirected: number[];
  adminPort: number;
  tunnelPort: number;
  image: string;
  /**
   * Detour version of the injected sidecar (since 0.2.0): the image tag when it is a release
   * version, else the webhook's own version. Records of 0.1.x lack it; see `sidecarVersionOf`.
   */
  sidecarVersion?: string;
}

/** The sidecar's Detour version: recorded (0.2.0 on), else the image tag (`…/detour:0.1.0`); undefined when neither says. */
export function sidecarVersionOf(record: InjectionRecord): string | undefined {
  if (typeof record.sidecarVersion === 'string' && record.sidecarVersion !== '') return record.sidecarVersion;
  return typeof record.image === 'string' ? imageVersion(record.image) : undefined;
}

/** Parses the annotation; undefined when absent or not a record this version understands. */
export function parseInjectionRecord(value: string | undefined): InjectionRecord | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const r = parsed as Partial<InjectionRecord>;
    if (typeof r.version !== 'number' || typeof r.sidecar !== 'string' || !Array.isArray(r.ports)) return undefined;
    if (typeof r.adminPort !== 'number' || typeof r.tunnelPort !== 'number') return undefined;
    return r as InjectionRecord;
  } catch {
    return undefined;
  }
}
