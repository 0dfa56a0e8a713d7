// The one reader of the `detour.dev/iptables` pod annotation (the opt-in to numeric-port redirect
// with an iptables init container). The webhook decides what to redirect with it, the operator
// whether an Intercept on a numeric port can take effect. Pure.
//
//   absent, "false"       no redirect
//   "true" or ""          every declared TCP port that is not taken over by name
//   "8080,9000"           those port numbers (items that are not 1..65535 are ignored, with a reason)

export type IptablesOptIn =
  | { mode: 'off' }
  | { mode: 'all' }
  | { mode: 'ports'; ports: number[]; invalid: string[] };

export function parseIptablesAnnotation(value: string | undefined): IptablesOptIn {
  if (value === undefined) return { mode: 'off' };
  const v = value.trim();
  if (v === 'false') return { mode: 'off' };
  if (v === 'true' || v === '') return { mode: 'all' };
  const ports: number[] = [];
  const invalid: string[] = [];
  for (const item of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const n = /^[0-9]{1,5}$/.test(item) ? Number(item) : NaN;
    if (!(n >= 1 && n <= 65535)) { invalid.push(item.slice(0, 20)); continue; }
    if (!ports.includes(n)) ports.push(n);
  }
  return { mode: 'ports', ports, invalid };
}

/** Whether the opt-in covers this numeric container port. */
export function iptablesCovers(optIn: IptablesOptIn, port: number): boolean {
  return optIn.mode === 'all' || (optIn.mode === 'ports' && optIn.ports.includes(port));
}
