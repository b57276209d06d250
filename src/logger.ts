import pino, { type Logger } from 'pino';

/**
 * JSON logs (pino). Anything that could carry a credential is redacted wherever it appears,
 * so a careless log call cannot leak a token.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'scan-gateway' },
      redact: {
        paths: [
          'authorization', '*.authorization', '*.headers.authorization', 'token', '*.token',
          'connectionParams', '*.connectionParams', 'password', '*.password', 'secret', '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
