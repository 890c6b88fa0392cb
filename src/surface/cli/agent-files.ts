/**
 * Where an agent's API is found: its default address and the files it writes in its data
 * directory. Apart from cli-kit.ts (which re-exports them) so that the agent, which
 * writes them, does not load the operator's API client and node:https with them.
 */

/** Where an agent's API listens unless told otherwise: loopback only. */
export const kDefaultApiBind = '127.0.0.1:7600';

export const kApiFileName = 'api.json';
export const kAdminTokenFileName = 'admin.token';
