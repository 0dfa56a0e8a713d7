import { describe, expect, it } from '@jest/globals';
import { parseForwardSpec } from './forward.js';

describe('parseForwardSpec', () => {
  it.each([
    ['redis:6379', { localPort: 6379, target: { host: 'redis', port: 6379 } }],
    ['16379:redis:6379', { localPort: 16379, target: { host: 'redis', port: 6379 } }],
    ['0:postgres.db:5432', { localPort: 0, target: { host: 'postgres.db', port: 5432 } }],
    ['8443:[fd00::1]:443', { localPort: 8443, target: { host: 'fd00::1', port: 443 } }],
  ])('%s', (text, want) => expect(parseForwardSpec(text)).toEqual(want));
  it.each(['redis', '70000:redis:1', 'redis:', ''])('explains %j', (text) => expect(parseForwardSpec(text)).toMatch(/--forward/));
});
