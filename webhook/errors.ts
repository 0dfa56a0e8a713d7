// One catalogue of the webhook's error answers, with stable names (fastify style).

export const WEBHOOK_ERRORS = {
  MALFORMED_JSON: { statusCode: 400, message: 'request body is not valid JSON' },
  NOT_ADMISSION_REVIEW: { statusCode: 400, message: 'request body is not an admission.k8s.io/v1 AdmissionReview' },
  INVALID_REQUEST: { statusCode: 400, message: 'AdmissionReview.request is missing or invalid' },
  MALFORMED_POD: { statusCode: 400, message: 'AdmissionReview.request.object is not a valid Pod' },
  NOT_FOUND: { statusCode: 404, message: 'no such route' },
  REQUEST_TIMEOUT: { statusCode: 408, message: 'request body did not arrive in time' },
  BODY_TOO_LARGE: { statusCode: 413, message: 'request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, message: 'request body must be application/json' },
  INTERNAL: { statusCode: 500, message: 'internal error' },
} as const;

export type WebhookErrorCode = keyof typeof WEBHOOK_ERRORS;

export interface WebhookErrorBody {
  code: WebhookErrorCode;
  message: string;
  /** What exactly was wrong, when known (never echoes request data beyond a short excerpt). */
  reason?: string;
}

export function buildErrorBody(code: WebhookErrorCode, reason?: string): WebhookErrorBody {
  return { code, message: WEBHOOK_ERRORS[code].message, ...(reason ? { reason: reason.slice(0, 300) } : {}) };
}

/** Maps fastify's own errors (body parsing, limits) to the catalogue. */
export function classifyFastifyError(err: { code?: unknown; statusCode?: unknown }): WebhookErrorCode {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return 'BODY_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return 'UNSUPPORTED_MEDIA_TYPE';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': return 'MALFORMED_JSON';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return 'MALFORMED_JSON';
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return 'MALFORMED_JSON';
    default: break;
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status === 413) return 'BODY_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 408) return 'REQUEST_TIMEOUT';
  if (status === 404) return 'NOT_FOUND';
  if (status >= 400 && status < 500) return 'MALFORMED_JSON';
  return 'INTERNAL';
}
