// Posting a drawing, shared by both modes (app.js, number.js): the PNG with the API key if one was
// given, and what to tell the user when the Worker refuses it.
import { askForKey, authHeaders } from './api-key.js';

/** POSTs a PNG to `path`; the answer is the JSON body, or null when there is none. */
export async function postPng(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'image/png', ...authHeaders() },
    body,
  });
  return { response, answer: await response.json().catch(() => null) };
}

/**
 * The status line for a refused request: `noInkText` for a drawing without ink (not an error), else
 * the Worker's own message. A 401 also asks for a key, then calls `retry`.
 */
export function refusal(response, answer, noInkText, retry) {
  if (response.status === 401) askForKey(retry);
  if (answer?.error?.code === 'no_ink') return { text: noInkText, isError: false };
  return { text: answer?.error?.message ?? `The server answered ${response.status}.`, isError: true };
}
