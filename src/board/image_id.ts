/**
 * Image ids as the board accepts them from a URL: the stream names an image by the SHA-256 of its
 * content, lower-case hex. Anything else (a path, `..`, upper case, a shorter prefix) is refused
 * before it can reach a lookup, so no request names a file.
 */

const IMAGE_ID = /^[0-9a-f]{64}$/;

/** Whether `value` has the shape of an image id (64 lower-case hex digits). */
export function isImageId(value: string): boolean {
  return IMAGE_ID.test(value);
}
