/**
 * What the API logs through; a pino logger fits it. The API module does not create a
 * logger of its own: the agent owns where logs go and at which level.
 */
export interface ApiLogger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export const kSilentApiLogger: ApiLogger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });
