import { CodedError } from '../util/coded-error.js';

/** The stable codes of channel-layer failures: callers, counters and tests match on these. */
export type ChannelErrorCode =
  | 'GALAXY_CHANNEL_TRUNCATED'
  | 'GALAXY_CHANNEL_BAD_VERSION'
  | 'GALAXY_CHANNEL_BAD_KIND'
  | 'GALAXY_CHANNEL_BAD_CONFIG'
  | 'GALAXY_CHANNEL_BAD_FLAGS'
  | 'GALAXY_CHANNEL_BAD_FRAGMENT'
  | 'GALAXY_CHANNEL_TOO_LARGE'
  | 'GALAXY_CHANNEL_BAD_LENGTH'
  | 'GALAXY_CHANNEL_BAD_BODY'
  | 'GALAXY_CHANNEL_UNKNOWN'
  | 'GALAXY_CHANNEL_EXISTS'
  | 'GALAXY_CHANNEL_ID_COLLISION'
  | 'GALAXY_CHANNEL_CONFIG_CONFLICT'
  | 'GALAXY_CHANNEL_TOO_MANY'
  | 'GALAXY_CHANNEL_BAD_OPTIONS'
  | 'GALAXY_CHANNEL_SEND_QUEUE_FULL'
  | 'GALAXY_CHANNEL_MESSAGE_TOO_LARGE';

/** A channel-layer operating failure (bad input, a bound reached); bugs throw plain Errors. */
export class ChannelError extends CodedError<ChannelErrorCode> {}
