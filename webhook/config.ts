// What the planner needs to know besides the pod. main.ts builds it from the environment; tests
// build it with `buildInjectionConfig({...overrides})`.

import { API_GROUP, OPERATOR_CONTROL_PORT, SYSTEM_NAMESPACES } from '../core/constants.js';
import { CONTROL_PATH } from '../core/control/protocol.js';
import type { SidecarLimits } from '../core/sidecar-config.js';

export interface ResourceList {
  cpu?: string;
  memory?: string;
}

export interface InjectionConfig {
  /** The sidecar's image. */
  sidecarImage: string;
  sidecarImagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Overrides the image's entrypoint when set. */
  sidecarCommand?: string[];
  sidecarArgs: string[];
  sidecarResources: { requests?: ResourceList; limits?: ResourceList };
  /** wss:// (or ws://) URL of the operator's control channel, given to the sidecar. */
  operatorUrl: string;
  /** PEM bundle the sidecar verifies the operator's certificate with (DETOUR_OPERATOR_CA); the mounted ca.crt. */
  operatorCaPem?: string;
  sidecarLogLevel: string;
  /** Resource limits written into the sidecar's env (SIDECAR_LIMIT_ENV); unset ones keep the sidecar's defaults. */
  sidecarLimits: Partial<SidecarLimits>;
  /**
   * Container port names to take over in every app container. The pod annotation
   * `detour.dev/ports` (comma list) adds names for one workload.
   */
  portNames: string[];
  /** Inject as a native sidecar (init container with restartPolicy Always; Kubernetes ≥ 1.29). */
  nativeSidecar: boolean;
  /** Image of the iptables init container (opt-in per pod with `detour.dev/iptables`). */
  iptablesImage: string;
  /** Command of the iptables init container; the generated script is its single argument. */
  iptablesCommand: string[];
  /** Lifetime of the projected service-account token the sidecar presents to the operator. */
  tokenExpirationSeconds: number;
  /** Namespaces never injected, whatever their pods say. */
  systemNamespaces: readonly string[];
}

export const DEFAULT_OPERATOR_URL = `ws://detour-operator.detour-system.svc:${OPERATOR_CONTROL_PORT}${CONTROL_PATH}`;

export const DEFAULT_IMAGE = `ghcr.io/${API_GROUP.replace('.', '-')}/detour:latest`;

/** Defaults plus overrides. The iptables image defaults to the sidecar's image (which ships iptables). */
export function buildInjectionConfig(overrides: Partial<InjectionConfig> = {}): InjectionConfig {
  const sidecarImage = overrides.sidecarImage ?? DEFAULT_IMAGE;
  return {
    sidecarImage,
    sidecarArgs: ['sidecar'],
    sidecarResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    operatorUrl: DEFAULT_OPERATOR_URL,
    sidecarLogLevel: 'info',
    sidecarLimits: {},
    portNames: ['http'],
    nativeSidecar: true,
    iptablesImage: sidecarImage,
    iptablesCommand: ['/bin/sh', '-c'],
    tokenExpirationSeconds: 3600,
    systemNamespaces: SYSTEM_NAMESPACES,
    ...overrides,
  };
}
