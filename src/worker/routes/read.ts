// POST /read: a picture of a handwritten number → its digits, left to right. The picture comes in
// any of /classify's picture forms, through the same guards and body limits; input/read-number.ts
// cuts it into digits, normalises each as /classify would and classifies them in one batch.
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { ApiError } from '../errors';
import { getRuntime } from '../inference/runtime';
import { parseDataUrl } from '../input/decode-image';
import { MAX_IMAGE_BYTES } from '../input/image-limits';
import { MULTIPART_FIELD, MULTIPART_MEDIA_TYPE, UNSUPPORTED_MEDIA_TYPE } from '../input/media-types';
import { findParser, inputParsers } from '../input/parsers';
import { multipartPicture, type PictureBytes } from '../input/pictures';
import { readNumber } from '../input/read-number';
import { limitsOf } from '../limits';
import { errorContent, MAX_BODY_BYTES, ReadJsonBody, ReadResponse } from '../schemas';
import { guarded } from '../security/guards';
import { acceptContentType, limitBody } from './request';

const SHAPE_HINT =
  'POST /read takes one picture: a PNG or JPEG body, a multipart field "image", or JSON {"image": "data:image/png;base64,…"}';

/** /classify's picture media types, described for a number rather than one digit. */
const pictureContent = Object.fromEntries(
  inputParsers.map((parser) => [
    parser.mediaType,
    parser.mediaType === MULTIPART_MEDIA_TYPE
      ? {
          schema: {
            type: 'object',
            properties: {
              [MULTIPART_FIELD]: { type: 'string', format: 'binary', description: 'PNG or JPEG of a number.' },
            },
            required: [MULTIPART_FIELD],
          },
          description: 'An HTML form upload, e.g. `curl -F image=@number.png`.',
        }
      : {
          schema: { type: 'string', format: 'binary' },
          description: 'A picture of a handwritten number on one line, any size up to 4096×4096, either polarity.',
        },
  ]),
);

const route = createRoute({
  method: 'post',
  path: '/read',
  summary: 'Read a handwritten number',
  description:
    'One picture of a number written on one line (PNG/JPEG body, multipart field "image", or JSON {"image": dataURL}). ' +
    'The ink is cut into digits (connected strokes; pieces of one digit joined, specks dropped, touching digits cut ' +
    'where the model is most confident of both sides), each normalised as POST /classify normalises a picture, ' +
    'and all classified as one batch. At most MAX_DIGITS digits per picture (see GET /model).',
  middleware: [...guarded.middleware, limitBody, acceptContentType] as const,
  security: guarded.security,
  request: {
    body: { content: { 'application/json': { schema: ReadJsonBody }, ...pictureContent } },
  },
  responses: {
    200: {
      content: { 'application/json': { schema: ReadResponse } },
      description: 'The number read, and each digit with its box, left to right.',
    },
    400: errorContent(`A JSON body other than {"image": …}, or a multipart form without an "image" field.`),
    413: errorContent(
      `Body over ${MAX_BODY_BYTES} bytes (JSON) or ${MAX_IMAGE_BYTES} bytes (pictures), or a picture over MAX_PICTURE_MEGAPIXELS.`,
    ),
    415: errorContent(`A Content-Type this route does not read. ${UNSUPPORTED_MEDIA_TYPE}`),
    422: errorContent(
      'A picture that cannot be decoded, one with no ink (`no_ink`), or one with more digits than MAX_DIGITS (`too_many_digits`).',
    ),
    ...guarded.responses,
    500: errorContent('The model could not be loaded.'),
  },
});

export const read = new OpenAPIHono().openapi(
  route,
  async (c) => {
    // The picture in whichever form it came; a raw body's declared type is checked against its bytes.
    const parser = findParser(c.req.header('content-type'));
    let picture: PictureBytes;
    if (!parser) picture = parseDataUrl(c.req.valid('json').image);
    else if (parser.mediaType === MULTIPART_MEDIA_TYPE) picture = await multipartPicture(c);
    else picture = { bytes: new Uint8Array(await c.req.arrayBuffer()), mediaType: parser.mediaType };
    const { classifier, verifier, metadata } = await getRuntime();
    const result = await readNumber(
      picture.bytes,
      picture.mediaType,
      limitsOf(c.env),
      (pixels, count) => classifier.classify(pixels, count),
      (inputs, count) => verifier.verify(inputs, count),
    );
    return c.json({ ...result, model: metadata.version }, 200);
  },
  // A JSON body that is not {"image": …}: /classify's shapes (pixels, images) do not apply here.
  (result) => {
    if (!result.success) throw new ApiError(400, 'invalid_body', `${SHAPE_HINT}.`);
    return undefined;
  },
);
