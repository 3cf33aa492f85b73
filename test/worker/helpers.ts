// Workerd-side helpers: the MNIST fixture from global-setup and requests through the Worker's fetch.
import { exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import { PIXEL_COUNT } from '../../src/shared/model-spec';

export interface Digits {
  count: number;
  labels: number[];
  /** Digit i as the 784 plain numbers a client sends. */
  pixels(i: number): number[];
}

let digits: Digits | undefined;

export function mnist(): Digits {
  if (digits) return digits;
  const bytes = Uint8Array.from(atob(inject('mnistImages')), (ch) => ch.charCodeAt(0));
  const labels = inject('mnistLabels');
  digits = {
    count: labels.length,
    labels,
    pixels: (i) => Array.from(bytes.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT)),
  };
  return digits;
}

export const BASE = 'http://worker.test';

export function request(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

export function postJson(body: unknown, path = '/classify'): Promise<Response> {
  return request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export interface ErrorBody {
  error: { code: string; message: string };
}
