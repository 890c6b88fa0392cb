/**
 * Named upper bounds for everything a profile can hold (TigerBeetle style): a profile
 * is input from people and from the FMIDB, so each list and text has a ceiling, and
 * the messages quote these numbers.
 */
/** Bytes of one profile file (YAML text). */
export const kProfileBytesMax = 256 * 1024;
/** Roles in one profile. */
export const kRolesMax = 32;
/** Components in one role. */
export const kComponentsPerRoleMax = 64;
/** Channels declared by one profile. */
export const kChannelsMax = 64;
/** Mixins listed by one profile. */
export const kMixinsMax = 16;
/** Profiles in one composition chain (a profile, its parents and mixins, transitively). */
export const kCompositionDepthMax = 16;
/** Members of one role; a cluster service with consensus views targets ~64 members. */
export const kRoleMembersMax = 64;
/** Members of one cluster (sum of the roles' minimum counts). */
export const kClusterMembersMax = 64;
/** Characters of a description. */
export const kDescriptionLengthMax = 1024;
/** Characters of a placement SQL statement (the landscape engine's own bound). */
export const kPlacementSqlLengthMax = 4096;
/** Entries in one `after` or `channels` list. */
export const kReferencesMax = 64;
/** Profile files read from one directory. */
export const kProfileFilesMax = 1024;
/** Nodes a placement considers. */
export const kPlacementNodesMax = 10_000;
/** Failure-detector bounds: a heartbeat faster than 10 ms floods, slower than a minute detects nothing. */
export const kHeartbeatIntervalMsMin = 10;
export const kHeartbeatIntervalMsMax = 60_000;
export const kFailureTimeoutMsMin = 50;
export const kFailureTimeoutMsMax = 600_000;
/** A timeout must span at least this many heartbeats, or one lost heartbeat is a false death. */
export const kTimeoutHeartbeatsMin = 2;
/** Levels of nesting in a profile (maps and lists, `config` included): deeper is refused before any recursive walk. */
export const kNestingDepthMax = 32;
