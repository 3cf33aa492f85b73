import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { ApiError, errorResponse } from './errors';
import { UNSUPPORTED_MEDIA_TYPE } from './input/media-types';
import { bodyError } from './input/validation';
import { limitsOf } from './limits';
import { classify } from './routes/classify';
import { feedback } from './routes/feedback';
import { info } from './routes/info';
import { read } from './routes/read';
import { API_KEY_SCHEME } from './security/guards';
import { apiSecureHeaders, cors } from './security/headers';

export const app = new OpenAPIHono({
  // zod-openapi calls this when a schema rejects the request: answer with our error shape.
  defaultHook: async (result, c) => {
    if (result.success) return;
    if (result.target === 'query') {
      throw new ApiError(400, 'invalid_query', 'normalize must be "true" or "false".');
    }
    // The hook is not handed the rejected value; Hono caches the parsed body, so read it again.
    throw bodyError(await c.req.json(), limitsOf(c.env).maxBatch);
  },
});

// CORS from CORS_ORIGINS (default * while no API key is set), secure headers on every JSON answer.
app.use(cors);
app.use(apiSecureHeaders);
// A known path with another method: 405 with Allow, in the API's error shape.
app.use(
  methodNotAllowed({
    app,
    onMethodNotAllowed: (c, allowed) => {
      c.header('Allow', allowed.join(', '));
      return errorResponse(
        c,
        405,
        'method_not_allowed',
        `${c.req.path} accepts ${allowed.join(', ')}, not ${c.req.method}.`,
      );
    },
  }),
);
app.route('/', info);
app.route('/', classify);
app.route('/', read);
app.route('/', feedback);

app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SCHEME, {
  type: 'http',
  scheme: 'bearer',
  description:
    'Needed on guarded routes (POST /classify, /read, /feedback) only when the owner has set the API_KEY secret; otherwise they are open.',
});

app.doc31('/openapi.json', {
  openapi: '3.1.0',
  info: {
    title: 'mnist-edge',
    version: '1.0.0',
    description: 'Handwritten-digit CNN (MNIST) on tfjs WASM SIMD in a Cloudflare Worker.',
  },
});

app.notFound((c) =>
  errorResponse(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}; see /openapi.json.`),
);

app.onError((err, c) => {
  if (err instanceof ApiError) return errorResponse(c, err.status, err.code, err.message);
  if (err instanceof HTTPException) {
    // Hono's bearerAuth throws a finished 401 (our error shape + WWW-Authenticate): send it as is.
    if (err.status === 401 && err.res) return err.getResponse();
    // Raised by Hono's validator (malformed JSON) and zod-openapi's media-type gate.
    if (err.status === 415) return errorResponse(c, 415, 'unsupported_media_type', UNSUPPORTED_MEDIA_TYPE);
    if (err.status === 400) return errorResponse(c, 400, 'invalid_json', 'The body is not valid JSON.');
  }
  // Anything else is our fault: log it, never leak a stack trace.
  console.error(err);
  return errorResponse(c, 500, 'internal_error', 'The server failed to handle this request.');
});
