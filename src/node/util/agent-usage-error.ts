/**
 * A mistake in how `galaxy agent` was invoked — a flag, an environment variable, the
 * config file or the data directory: the CLI prints the message and exits with status 2.
 * It lives apart from agent-command.ts so the config modules can throw it without an
 * import cycle; agent-command.ts re-exports it.
 */
export class AgentUsageError extends Error {
  readonly exitCode = 2;
  readonly code = 'galaxy.agent.usage';

  constructor(message: string) {
    super(message);
    this.name = 'AgentUsageError';
  }
}
