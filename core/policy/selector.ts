// metav1.LabelSelector semantics (pure): every matchLabels pair and every expression must hold;
// an empty selector selects everything.

import type { LabelSelector } from './types.js';

export function matchLabelSelector(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In': if (!has || !values.includes(l[e.key]!)) return false; break;
      case 'NotIn': if (has && values.includes(l[e.key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false; // an unknown operator selects nothing (the CRD refuses it)
    }
  }
  return true;
}
