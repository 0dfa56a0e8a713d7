import { describe, expect, it } from '@jest/globals';
import { buildGrpcStatusHeaders, encodeGrpcMessage, grpcStatusForHttp, isGrpcRequest } from './grpc-status.js';

describe('isGrpcRequest', () => {
  it.each([
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['Application/GRPC+json', true],
    ['application/grpc; charset=utf-8', true],
    ['application/grpc-web', false],
    ['application/json', false],
    [undefined, false],
  ])('%s → %s', (ct, expected) => {
    expect(isGrpcRequest(ct === undefined ? {} : { 'content-type': ct })).toBe(expected);
  });
});

describe('grpcStatusForHttp', () => {
  it.each([[400, 13], [401, 16], [403, 7], [404, 12], [429, 14], [502, 14], [503, 14], [504, 14], [431, 8], [500, 2], [418, 2]])('%i → %i', (http, grpc) => {
    expect(grpcStatusForHttp(http)).toBe(grpc);
  });
});

describe('encodeGrpcMessage', () => {
  it.each([
    ['plain text', 'plain text'],
    ['100% sure', '100%25 sure'],
    ['détail ✓', 'd%C3%A9tail %E2%9C%93'],
    ['line\r\nbreak', 'line%0D%0Abreak'],
  ])('%j → %j', (input, out) => {
    expect(encodeGrpcMessage(input)).toBe(out);
    expect(decodeURIComponent(out)).toBe(input);
  });

  it('builds the status pair', () => {
    expect(buildGrpcStatusHeaders(503, 'no developer connected')).toEqual({ 'grpc-status': '14', 'grpc-message': 'no developer connected' });
  });
});
