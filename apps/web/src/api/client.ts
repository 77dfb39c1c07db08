// The one typed client for the GPU server's control plane. Types come from the generated schema.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export const api = createClient<paths>({ baseUrl: '' });

export type Schemas = components['schemas'];
export type ApiErrorBody = Schemas['ErrorResponse'];

/** Error thrown by query functions: carries the server's typed error code. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function toServerError(status: number, body: unknown): ServerError {
  const err = (body as Partial<ApiErrorBody> | undefined)?.error;
  return new ServerError(status, err?.code ?? 'http_error', err?.message ?? `HTTP ${status}`);
}
