import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { DETOUR_VERSION } from './version.js';

const root = new URL('../../', import.meta.url);

describe('DETOUR_VERSION', () => {
  it('is the one version of package.json and the chart (version, appVersion → the default image tag)', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
    const chart = parse(readFileSync(new URL('charts/detour/Chart.yaml', root), 'utf8')) as { version: string; appVersion: string };
    expect({ pkg: pkg.version, chart: chart.version, appVersion: chart.appVersion }).toEqual({ pkg: DETOUR_VERSION, chart: DETOUR_VERSION, appVersion: DETOUR_VERSION });
  });

  it('has a CHANGELOG.md section', () => {
    expect(readFileSync(new URL('CHANGELOG.md', root), 'utf8')).toMatch(new RegExp(`^## \\[?${DETOUR_VERSION.replace(/\./g, '\\.')}\\]?`, 'm'));
  });
});
