import { describe, expect, it } from '@jest/globals';
import { decodeBaggageValue, parseBaggage } from './baggage.js';

// Examples from W3C Baggage, "HTTP header format" (§3.2 Definition, §3.4 Example), then malformed input.
describe('parseBaggage', () => {
  it.each<[string, string, Record<string, string>]>([
    ['spec: simple members', 'key1=value1,key2=value2', { key1: 'value1', key2: 'value2' }],
    ['spec: OWS around = and ,', 'key1 = value1, key2 = value2', { key1: 'value1', key2: 'value2' }],
    ['spec: properties are ignored', 'key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue', { key1: 'value1', key2: 'value2', key3: 'value3' }],
    ['spec: percent-encoded values', 'userId=alice,serverNode=DF%2028,isProduction=false', { userId: 'alice', serverNode: 'DF 28', isProduction: 'false' }],
    ['spec: UTF-8 percent-encoding', 'userId=Am%C3%A9lie', { userId: 'Amélie' }],
    ['two baggage headers as Node joins them', 'userId=alice, serverNode=DF%2028,isProduction=false', { userId: 'alice', serverNode: 'DF 28', isProduction: 'false' }],
    ['tabs are OWS', 'k\t=\tv', { k: 'v' }],
    ['+ stays + (not form encoding)', 'k=a+b', { k: 'a+b' }],
    ['empty value', 'k=', { k: '' }],
    ['a repeated key keeps its last value (as OpenTelemetry)', 'k=first,k=second', { k: 'second' }],
    ['keys are case-sensitive', 'User=a,user=b', { User: 'a', user: 'b' }],
    ['= inside the value is kept', 'k=a=b', { k: 'a=b' }],
    ['lone % stays', 'k=50%', { k: '50%' }],
    ['% without two hex digits stays', 'k=%zz%4', { k: '%zz%4' }],
    ['invalid UTF-8 becomes U+FFFD', 'k=%FF', { k: '\uFFFD' }],
    // malformed: the member is skipped, the others count
    ['empty header', '', {}],
    ['only commas (empty list members)', ',, ,', {}],
    ['member without =', 'key1,key2=v', { key2: 'v' }],
    ['empty key', '=v,ok=1', { ok: '1' }],
    ['key with a space inside', 'key 1=v,ok=1', { ok: '1' }],
    ['key with a non-token character', 'k(1)=v,ok=1', { ok: '1' }],
    ['value with a space inside', 'k=a b,ok=1', { ok: '1' }],
    ['quoted value (DQUOTE is not a baggage-octet)', 'k="v",ok=1', { ok: '1' }],
    ['value with a backslash', 'k=a\\b,ok=1', { ok: '1' }],
    ['raw non-ASCII value', 'k=\u00e9,ok=1', { ok: '1' }],
    ['a control character', 'k=a\u0001,ok=1', { ok: '1' }],
  ])('%s', (_name, header, want) => {
    expect(Object.fromEntries(parseBaggage(header))).toEqual(want);
  });

  it('never throws on arbitrary bytes', () => {
    for (let c = 0; c < 256; c++) expect(() => parseBaggage(`k=%${String.fromCharCode(c)}${String.fromCharCode(c)},${String.fromCharCode(c)}=v`)).not.toThrow();
  });
});

describe('decodeBaggageValue', () => {
  it.each<[string, string]>([
    ['plain', 'plain'],
    ['a%2Cb%3Bc', 'a,b;c'],
    ['%e2%82%ac', '€'],
    ['%', '%'],
    ['%C3', '\uFFFD'],
  ])('%s → %s', (raw, want) => expect(decodeBaggageValue(raw)).toBe(want));
});

describe('parseBaggage reads what OpenTelemetry\'s W3CBaggagePropagator writes', () => {
  it.each<[string, string]>([
    ['plain', 'alice'],
    ['with separators', 'a,b;c=d'],
    ['with spaces and quotes', 'Amélie "the" tester'],
    ['percent sign', '100%'],
  ])('%s', async (_name, value) => {
    const { propagation, context, defaultTextMapSetter } = await import('@opentelemetry/api');
    const { W3CBaggagePropagator } = await import('@opentelemetry/core');
    const carrier: Record<string, string> = {};
    const bag = propagation.createBaggage({ 'detour-user': { value }, other: { value: 'x' } });
    new W3CBaggagePropagator().inject(propagation.setBaggage(context.active(), bag), carrier, defaultTextMapSetter);
    expect(parseBaggage(carrier.baggage!).get('detour-user')).toBe(value);
  });
});
