import { CodedError } from '../util/coded-error.js';

/** Stable codes of the messenger: envelopes refused, channels unknown, payloads a codec refused. */
export type MessengerErrorCode =
  | 'GALAXY_MESSENGER_SHORT'
  | 'GALAXY_MESSENGER_VERSION'
  | 'GALAXY_MESSENGER_MODE'
  | 'GALAXY_MESSENGER_SENDER'
  | 'GALAXY_MESSENGER_UNKNOWN_CHANNEL'
  | 'GALAXY_MESSENGER_CHANNEL_TAKEN'
  | 'GALAXY_MESSENGER_DECODE'
  | 'GALAXY_MESSENGER_TOO_LARGE'
  | 'GALAXY_MESSENGER_MODE_REFUSED';

export class MessengerError extends CodedError<MessengerErrorCode> {}
