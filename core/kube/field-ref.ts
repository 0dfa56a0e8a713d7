// Downward API field references (`valueFrom.fieldRef.fieldPath`) resolved against a pod, as the
// kubelet does. Pure. Used by the test node (container env) and `detour env`.

export interface FieldRefPod {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { nodeName?: string; serviceAccountName?: string };
  status?: { podIP?: string; hostIP?: string };
}

/** The value of `fieldPath` for `pod`; undefined for a path the downward API does not offer. */
export function resolveFieldRef(pod: FieldRefPod, fieldPath: string): string | undefined {
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed) return (keyed[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[keyed[2]!];
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata?.name;
    case 'metadata.namespace': return pod.metadata?.namespace;
    case 'metadata.uid': return pod.metadata?.uid;
    case 'spec.nodeName': return pod.spec?.nodeName;
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName;
    case 'status.podIP': case 'status.podIPs': return pod.status?.podIP;
    case 'status.hostIP': case 'status.hostIPs': return pod.status?.hostIP;
    default: return undefined;
  }
}
