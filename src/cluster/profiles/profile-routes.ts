import { z } from 'zod';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kImportFilesMax, kStoredProfileBytesMax, type ProfileLibrary } from './profile-library.js';
import { kProfileRefPattern } from './profile-schema.js';

/**
 * The API of the profiles stored in the FMIDB (profile-library.ts). Reads are viewer
 * routes; import and remove need an operator. A bad profile is a 400 whose message
 * names the file, the path inside it and the reason, one line per problem (all of them).
 *
 *   GET    /v1/profiles                  every stored version: kind, extends, mixins, valid, missing components
 *   GET    /v1/profiles/:ref             one (NAME or NAME@RANGE, the highest in range): the text as imported, rendered
 *   DELETE /v1/profiles/:ref             NAME@VERSION, refused while a stored profile composes from it
 *   POST   /v1/profiles                  {"profiles": [{"file", "text"}]}: import, all or nothing
 *   POST   /v1/profiles/render           {"profile": {"ref"} | {"file", "text"}}  -> {ref, yaml}
 *   POST   /v1/profiles/diff             {"a": ..., "b": ...} (each as for render) -> {a, b, entries, lines}
 */
const kFileNameLengthMax = 4096;
const kRefSchema = z.string().max(200).regex(kProfileRefPattern, 'a profile is NAME or NAME@VERSION-RANGE (a-z 0-9 -, starting with a letter)');
const kTextSchema = z.string().max(kStoredProfileBytesMax, `a profile text is at most ${kStoredProfileBytesMax} characters`);
const kFileSchema = z.object({ file: z.string().min(1).max(kFileNameLengthMax), text: kTextSchema }).strict();
/** A stored profile by reference, or a file's text composed against the stored profiles. */
export const kProfileInputSchema = z.union([z.object({ ref: kRefSchema }).strict(), kFileSchema], { errorMap: () => ({ message: 'a profile is {"ref": "NAME[@RANGE]"} or {"file": NAME, "text": YAML}' }) });
const kImportBodySchema = z.object({ profiles: z.array(kFileSchema).min(1, 'give at least one profile').max(kImportFilesMax, `at most ${kImportFilesMax} profiles at once`) }).strict();
const kRefParamsSchema = z.object({ ref: kRefSchema }).strict();
const kRemoveParamsSchema = z.object({ ref: z.string().regex(/^[a-z][a-z0-9-]{0,62}@\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/, 'remove names one exact version: NAME@X.Y.Z') }).strict();

export function profileRoutes(library: ProfileLibrary): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/profiles', role: 'viewer', handle: () => ok(library.list()) }),
    route({ method: 'GET', pattern: '/v1/profiles/:ref', role: 'viewer', params: kRefParamsSchema, handle: ({ params }) => ok(library.show(params.ref)) }),
    route({
      method: 'DELETE',
      pattern: '/v1/profiles/:ref',
      role: 'operator',
      params: kRemoveParamsSchema,
      handle: async ({ params, caller }) => {
        const at = params.ref.indexOf('@');
        await library.remove(params.ref.slice(0, at), params.ref.slice(at + 1), by(caller));
        return { status: 204 };
      },
    }),
    route({ method: 'POST', pattern: '/v1/profiles', role: 'operator', body: kImportBodySchema, handle: async ({ body, caller }) => ok(await library.importProfiles(body.profiles, by(caller))) }),
    route({ method: 'POST', pattern: '/v1/profiles/render', role: 'viewer', body: z.object({ profile: kProfileInputSchema }).strict(), handle: ({ body }) => ok(library.render(body.profile)) }),
    route({ method: 'POST', pattern: '/v1/profiles/diff', role: 'viewer', body: z.object({ a: kProfileInputSchema, b: kProfileInputSchema }).strict(), handle: ({ body }) => ok(library.diff(body.a, body.b)) }),
  ];
}
