// The job and script routes run through the same steps as the API server (route match,
// role check, query, path and body validation, the handler, error mapping) without the
// rest of the server, which has no way yet to take another area's route table; and a
// small node:http front for it, so the CLI can be tested against it over HTTP.
import { createServer, type Server } from 'node:http';
import type { ApiRole } from '../../src/surface/api/api-roles.js';
import { authorize } from '../../src/ops/api/api-auth.js';
import { parseInput, queryObject, splitTarget } from '../../src/ops/api/api-input.js';
import { toApiError } from '../../src/ops/api/api-response.js';
import { ApiRouter } from '../../src/ops/api/api-router.js';
import type { ApiRoute } from '../../src/surface/api/api-route.js';
import type { JobsBackend } from '../../src/farm/jobs/jobs-backend.js';
import { jobsRoutes } from '../../src/farm/jobs/jobs-routes.js';

export interface Answer {
  readonly status: number;
  readonly json: any;
}

export type Dispatch = (method: string, target: string, role: ApiRole, body?: unknown) => Promise<Answer>;

export function routeDispatcher(backend: JobsBackend): Dispatch {
  const router = new ApiRouter<ApiRoute>(jobsRoutes(backend));
  return async (method, target, role, body) => {
    try {
      const { pathname, search } = splitTarget(target);
      const { route, params } = router.match(method, pathname);
      authorize({ name: `${role}-token`, role }, route.role!);
      const query = parseInput('query', route.query, queryObject(search));
      const path = parseInput('path', route.params, params);
      let parsedBody: unknown;
      if (route.body !== null) {
        if (body === undefined && !route.bodyOptional) return { status: 400, json: { error: { code: 'GALAXY_API_BODY_MISSING', message: 'body missing' } } };
        parsedBody = parseInput('body', route.body, body ?? {});
      }
      const reply = await route.handle({ params: path, query, body: parsedBody, caller: { name: `${role}-token`, role } });
      return { status: reply.status, json: 'json' in reply ? reply.json : undefined };
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError === null) throw error;
      return { status: apiError.status, json: { error: { code: apiError.code, message: apiError.message } } };
    }
  };
}

/** Serves a dispatcher over HTTP on loopback; the bearer token is the role's name. */
export async function serveOverHttp(dispatch: Dispatch): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const role = (request.headers.authorization ?? '').replace(/^Bearer /, '') as ApiRole;
      const text = Buffer.concat(chunks).toString('utf8');
      dispatch(request.method ?? 'GET', request.url ?? '/', role, text === '' ? undefined : JSON.parse(text))
        .then((answer) => {
          response.writeHead(answer.status, { 'Content-Type': 'application/json' });
          response.end(answer.json === undefined ? '' : JSON.stringify(answer.json));
        })
        .catch((error: Error) => {
          response.writeHead(500, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify({ error: { code: 'GALAXY_API_INTERNAL', message: error.message } }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server };
}
