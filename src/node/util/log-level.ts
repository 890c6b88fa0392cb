/** The pino log levels an agent accepts, least verbose last but one ('silent' turns logging off). */
export const kLogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof kLogLevels)[number];
