import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Bodies must be JSON (anything else is 415). A byte order mark is refused: RFC 8259 forbids sending one,
 * and accepting it would hide a broken client. Prototype-poisoning keys are refused too.
 */
export function acceptJsonOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = app.getDefaultJsonParser('error', 'error');
  const parseJson = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    // Decoding bytes that are not UTF-8 would silently turn them into U+FFFD (a name that is not what was sent).
    if (typeof body !== 'string' && !isUtf8(body)) return done(jsonError('The body is not UTF-8 text.'));
    const text = body.toString();
    if (text.charCodeAt(0) === 0xfeff) return done(jsonError('The body starts with a byte order mark (U+FEFF); send JSON without one.'));
    parse(request, text, (err, value) => {
      if (!err) return done(null, value);
      if ((err as { code?: string }).code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return done(err);
      done(jsonError(`The body is not valid JSON: ${jsonSyntaxMessage(text)}`));
    });
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  app.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: 'buffer' }, parseJson);
}

function jsonSyntaxMessage(text: string): string {
  try {
    JSON.parse(text);
    return 'it holds a __proto__ or constructor.prototype key.';
  } catch (err) {
    // V8 quotes the text around an unexpected token ("Unexpected token 'h', "hunter2-se"... is not valid
    // JSON"): a malformed body may hold a secret, so only where it broke is told.
    const message = (err as Error).message;
    return message.includes('"') ? 'an unexpected token.' : message.slice(0, 200);
  }
}

function jsonError(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400, code: 'BAD_JSON', fieldErrors: { $: [message] } });
}
