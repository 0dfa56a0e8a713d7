// Release versions and the skew policy (docs/install.md "Upgrading"). Pure.
//
// A release line is MAJOR.MINOR; N−1 is the line before it within the same major (0.2 → 0.1).
// Across a major (1.0 → 0.x) nothing is promised: planSkew says `older`.

export interface Release {
  major: number;
  minor: number;
  patch: number;
}

const SEMVER = /^v?(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?$/;

/** `0.2.0`, `v0.2.0`, `0.2.0-rc.1` → the release; anything else (an image tag like `test`, `latest`) → undefined. */
export function parseRelease(text: string | undefined): Release | undefined {
  if (text === undefined) return undefined;
  const m = SEMVER.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** `ghcr.io/detour-dev/detour:0.1.0@sha256:…` → `0.1.0`; undefined when the tag is not a release version. */
export function imageVersion(image: string): string | undefined {
  const ref = image.split('@')[0]!;
  const colon = ref.lastIndexOf(':');
  if (colon <= ref.lastIndexOf('/')) return undefined;
  const tag = ref.slice(colon + 1);
  return parseRelease(tag) ? tag.replace(/^v/, '') : undefined;
}

/**
 * Where `peer` stands relative to `self` under the skew policy:
 * - `current`: the same release line;
 * - `previous`: N−1 (the line before): supported, replaced when the pod restarts;
 * - `older`: older than N−1: not supported, only a restart replaces it;
 * - `newer`: a later line than `self` (e.g. after a rollback): upgrade `self`'s side;
 * - `unknown`: `peer` is not a release version.
 */
export type Skew = 'current' | 'previous' | 'older' | 'newer' | 'unknown';

export function planSkew(peer: string | undefined, self: string): Skew {
  const p = parseRelease(peer);
  const s = parseRelease(self);
  if (!p || !s) return 'unknown';
  if (p.major > s.major || (p.major === s.major && p.minor > s.minor)) return 'newer';
  if (p.major === s.major && p.minor === s.minor) return 'current';
  if (p.major === s.major && p.minor === s.minor - 1) return 'previous';
  return 'older';
}

/** `0.2.0` → `0.2.x`, for messages. */
export function releaseLine(version: string): string {
  const r = parseRelease(version);
  return r ? `${r.major}.${r.minor}.x` : version;
}
