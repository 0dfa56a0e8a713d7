// The one Detour version: package.json `version`, the chart's `version` and `appVersion` (and so
// the default image tag), the injection record's `sidecarVersion`, `detour_build_info` and
// `detour version`. A constant rather than a read of package.json at run time, so a built dist/
// needs no package.json beside it; version.test.ts fails when the three places disagree, and
// docs/releasing.md says to change them together.

export const DETOUR_VERSION = '0.2.0';
