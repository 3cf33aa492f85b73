// Worker entry: the Hono app, warmed up while the Worker starts, behind a handler that reports the
// Worker's own time per request in a standard `Server-Timing` header (`app;dur=<ms>`): from the
// moment workerd hands the request over to the answer's headers being ready (routing, middleware,
// reading and decoding the body, the forward pass, the JSON). The body of a JSON answer is already
// built then; a streamed body would not be counted.
//
// What the clock allows: workerd run locally (`wrangler dev`, the tests) advances
// `performance.now()` during synchronous work, in whole milliseconds, so there it reads the
// handler's real time. On Cloudflare's edge the clock only moves on I/O (a Spectre mitigation), so
// there the figure is the time spent waiting on I/O (D1, the rate limiter), near 0 for a
// classification, and says nothing about CPU.
import { app } from './app';
import { warmUp } from './warm-up';

const worker = {
  async fetch(request: Request, env?: object, ctx?: ExecutionContext): Promise<Response> {
    const start = performance.now();
    const response = await app.fetch(request, env, ctx);
    return withServerTiming(response, performance.now() - start);
  },
} satisfies ExportedHandler<object>;

function withServerTiming(response: Response, ms: number): Response {
  const value = `app;dur=${Math.round(ms * 10) / 10}`;
  try {
    response.headers.append('Server-Timing', value);
    return response;
  } catch {
    // Immutable headers (a Response passed through from fetch()): copy it.
    const copy = new Response(response.body, response);
    copy.headers.append('Server-Timing', value);
    return copy;
  }
}

await warmUp(app, worker.fetch);

export default worker;
