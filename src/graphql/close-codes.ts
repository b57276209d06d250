import { CloseCode as ProtocolCloseCode } from 'graphql-ws';

/**
 * The codes this gateway itself closes a WebSocket with (graphql-ws's core sends the other 44xx codes of
 * its protocol). The graphql-ws client retries 1001, 1013 and 4403 (a fresh token may be accepted) and
 * gives up on 1009, 4400 and 4500; the README lists them all.
 */
export const CloseCode = {
  /** The gateway is shutting down: reconnect, to another instance if there is one. */
  GoingAway: 1001,
  /** A message over WS_MAX_PAYLOAD_BYTES (the `ws` library closes with it). */
  MessageTooBig: 1009,
  /** A limit that frees itself: more sockets than WS_MAX_SOCKETS_PER_SUBJECT, or messages faster than WS_MAX_MESSAGES_PER_SECOND; try again later. */
  TryAgainLater: 1013,
  /** A message the protocol does not allow from a client. */
  BadRequest: ProtocolCloseCode.BadRequest,
  /** No valid token, a token without a scan role, or the token expired. */
  Forbidden: ProtocolCloseCode.Forbidden,
  /** Something failed on our side; the cause is in the log. */
  InternalServerError: ProtocolCloseCode.InternalServerError,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
