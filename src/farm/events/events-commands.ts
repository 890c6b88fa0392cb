import type { Command } from 'commander';
import type { EventsPage } from './events-backend.js';
import { kEventsQueryLimitMax } from './event-filter.js';
import { kFarmEventSeverities } from './farm-event.js';
import { CliError, connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

/**
 * The operator's commands for farm events, over the agent's API:
 *
 *   galaxy events [--since 10m|ISO] [--until 10m|ISO] [--node ID] [--type T|prefix*]
 *                 [--landscape L] [--limit N] [--json]
 *   galaxy event post TYPE [--severity info|warning|error|critical] [--body JSON]
 *
 * `events` lists the newest matching events (oldest first), as a management node stores
 * them; when older matches were left out it says so on stderr. `event post` raises an
 * event on the agent's node (its source is api:<token name>) and prints its id.
 * Connection flags as for the other API commands (surface/cli/cli-kit.ts).
 */
interface EventsFlags extends ConnectionFlags {
  since?: string;
  until?: string;
  node?: string;
  type?: string;
  landscape?: string;
  limit?: string;
}

interface PostFlags extends ConnectionFlags {
  severity?: string;
  body?: string;
}

/** The query string of `galaxy events`: what was given, with the limit checked here (the agent checks the rest). */
export function eventsQueryString(flags: EventsFlags): string {
  const params = new URLSearchParams();
  for (const key of ['since', 'until', 'node', 'type', 'landscape'] as const) if (flags[key] !== undefined) params.set(key, flags[key]);
  if (flags.limit !== undefined) {
    const limit = Number(flags.limit);
    if (!/^\d+$/.test(flags.limit) || limit < 1 || limit > kEventsQueryLimitMax) throw new CliError(`--limit must be an integer from 1 to ${kEventsQueryLimitMax}, got "${flags.limit}"`);
    params.set('limit', String(limit));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The body of `galaxy event post`, checked before it is sent. */
export function postEventBody(type: string, flags: PostFlags): { type: string; severity?: string; body?: Record<string, unknown> } {
  if (flags.severity !== undefined && !(kFarmEventSeverities as readonly string[]).includes(flags.severity)) throw new CliError(`--severity must be one of ${kFarmEventSeverities.join(', ')}, got "${flags.severity}"`);
  let body: unknown;
  if (flags.body !== undefined) {
    try {
      body = JSON.parse(flags.body);
    } catch (error) {
      throw new CliError(`--body must be a JSON object: ${(error as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CliError('--body must be a JSON object, e.g. \'{"mount": "/data"}\'');
  }
  return { type, ...(flags.severity === undefined ? {} : { severity: flags.severity }), ...(body === undefined ? {} : { body: body as Record<string, unknown> }) };
}

export function registerEventsCommands(program: Command, print: Print = (line) => console.log(line)): void {
  withConnection(
    program
      .command('events')
      .description('farm events stored by the management nodes: newest matches, oldest first')
      .option('--since <time>', 'from this time: ISO 8601, or a duration back from now (10m, 2h, 7d)')
      .option('--until <time>', 'up to this time: ISO 8601, or a duration back from now')
      .option('--node <id>', 'events of one node')
      .option('--type <type>', 'events of one type, or of a type prefix ending in * (disk.*)')
      .option('--landscape <name>', 'events of the nodes of a landscape')
      .option('--limit <n>', `at most this many, the newest (default 1000, at most ${kEventsQueryLimitMax})`),
  ).action((flags: EventsFlags) =>
    run(print, async () => {
      const page = (await connect(flags).get(`/v1/events/query${eventsQueryString(flags)}`)) as EventsPage;
      if (flags.json) return print(JSON.stringify(page, null, 2));
      if (page.events.length === 0) print('(none)');
      else table(print, [['TIME', 'NODE', 'SEVERITY', 'TYPE', 'SOURCE', 'BODY'], ...page.events.map((e) => [e.time, e.node, e.severity, e.type, e.source, JSON.stringify(e.body)])]);
      if (page.truncated) console.error('galaxy: older matching events were left out; narrow --since or raise --limit');
    }),
  );

  const event = program.command('event').description('raise a farm event');
  withConnection(
    event
      .command('post <type>')
      .description('raise an event on the agent\'s node; it reaches the management nodes like any other')
      .option('--severity <severity>', `${kFarmEventSeverities.join(', ')} (default info)`)
      .option('--body <json>', 'a JSON object with the event\'s details'),
  ).action((type: string, flags: PostFlags) =>
    run(print, async () => {
      const posted = (await connect(flags).post('/v1/events', postEventBody(type, flags))) as { id: string };
      if (flags.json) return print(JSON.stringify(posted, null, 2));
      print(posted.id);
    }),
  );
}
