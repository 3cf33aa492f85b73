/**
 * The media types POST /classify reads, in one place: the body parsers, the 415 message and the
 * OpenAPI document are all derived from this table. Adding a picture type is one line here (and
 * its decoder in decode-image.ts).
 */

export type PictureFormat = 'png' | 'jpeg';

/** Picture media types, aliases included, and the format each one names. */
export const PICTURE_MEDIA_TYPES = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg', // not registered, but sent by many clients
  'image/pjpeg': 'jpeg', // old Internet Explorer uploads
} as const satisfies Record<string, PictureFormat>;
export type PictureMediaType = keyof typeof PICTURE_MEDIA_TYPES;

export const JSON_MEDIA_TYPE = 'application/json';
export const MULTIPART_MEDIA_TYPE = 'multipart/form-data';
/** The form field a multipart upload carries its picture in. */
export const MULTIPART_FIELD = 'image';

/** The media type of a Content-Type header without its parameters, lower-cased: `Image/PNG; q=1` → `image/png`. */
export function mediaTypeOf(header: string | null | undefined): string | undefined {
  const essence = header?.split(';')[0].trim().toLowerCase();
  return essence || undefined;
}

export function pictureFormat(mediaType: string | undefined): PictureFormat | undefined {
  return mediaType !== undefined && Object.hasOwn(PICTURE_MEDIA_TYPES, mediaType)
    ? PICTURE_MEDIA_TYPES[mediaType as PictureMediaType]
    : undefined;
}

/** `application/json` and structured-syntax variants such as `application/vnd.api+json`. */
export const isJson = (mediaType: string | undefined) =>
  mediaType !== undefined && /^application\/([\w.-]+\+)?json$/.test(mediaType);

const listed = [JSON_MEDIA_TYPE, ...Object.keys(PICTURE_MEDIA_TYPES)].join(', ');
export const UNSUPPORTED_MEDIA_TYPE = `Send Content-Type: ${listed} or ${MULTIPART_MEDIA_TYPE} (field "${MULTIPART_FIELD}").`;
