import type { IncomingMessage } from 'node:http';
import { ApiHttpError } from './api-http-error.js';
import { hopTrace } from '../../node/util/hop-trace.js';

/**
 * Reads a JSON request body, bounded. The Content-Length is checked before a byte is
 * read, and a chunked body is counted as it arrives: at bodyBytesMax the server stops
 * reading, answers 413 and closes the connection (the rest of the body is never
 * buffered, nor read). A client that lies in Content-Length cannot get more through,
 * since node's parser stops at the declared length.
 */
/** Whether the request carries a body at all (a declared length above 0, or chunked). */
export function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

/** The parsed JSON, or undefined when the request has no body. */
export async function readJsonBody(request: IncomingMessage, bodyBytesMax: number): Promise<unknown> {
  if (!hasBody(request)) return undefined;
  checkContentType(request.headers['content-type']);
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > bodyBytesMax) throw tooLarge(bodyBytesMax);
  const bytes = await readBounded(request, bodyBytesMax);
  hopTrace?.scan('api.body', bytes);
  return parseJson(bytes);
}

/** application/json, with no charset or utf-8: JSON is UTF-8 on the wire (RFC 8259). */
function checkContentType(header: string | undefined): void {
  const [mediaType = '', ...parameters] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (mediaType === 'application/json' && (charset === undefined || charset === 'utf-8')) return;
  throw new ApiHttpError(415, 'GALAXY_API_UNSUPPORTED_MEDIA_TYPE', `a request body must be JSON: send Content-Type: application/json (got ${header === undefined ? 'none' : `"${header}"`})`, { Connection: 'close' });
}

function readBounded(request: IncomingMessage, bodyBytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > bodyBytesMax) {
        cleanup();
        // Stop reading: what is still in flight stays in the kernel until the socket closes.
        request.pause();
        reject(tooLarge(bodyBytesMax));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onAborted = (): void => onError(new Error('the client closed the connection before sending the whole body'));
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('aborted', onAborted);
  });
}

const kUtf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(bytes: Buffer): unknown {
  let text: string;
  try {
    text = kUtf8.decode(bytes);
  } catch {
    throw new ApiHttpError(400, 'GALAXY_API_MALFORMED_JSON', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiHttpError(400, 'GALAXY_API_MALFORMED_JSON', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(bodyBytesMax: number): ApiHttpError {
  return new ApiHttpError(413, 'GALAXY_API_BODY_TOO_LARGE', `the request body exceeds ${bodyBytesMax} bytes`, { Connection: 'close' });
}
