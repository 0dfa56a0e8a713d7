// metav1.Time as the API server writes it: RFC 3339 in UTC, whole seconds (`2025-01-01T01:00:00Z`).

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
