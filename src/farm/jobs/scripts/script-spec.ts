import { z } from 'zod';
import { kJobTargetSchema, kProcessSpecSchema } from '../job-spec.js';
import { parseBatchLimit } from './batch-plan.js';
import { kPhasesMax, kScriptArgsMax, kScriptCharsMax } from './scripts-limits.js';
import { parseSuccessRule } from './success-rule.js';

/**
 * A request to run a script, as the API and the scripts component accept it (strict:
 * a misspelt option is refused). The script is shipped as text in the request and run
 * by the interpreter on each node (`bash -c SCRIPT galaxy-script ARGS...`): it is never
 * assumed to be present on the nodes.
 */
function parsesWith(parse: (text: string) => unknown) {
  return (text: string, context: z.RefinementCtx) => {
    try {
      parse(text);
    } catch (error) {
      context.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
    }
  };
}

const kLimits = kProcessSpecSchema.pick({ timeoutMs: true, memoryMb: true, user: true, env: true, cwd: true });

export const kScriptRunSchema = kLimits
  .extend({
    target: kJobTargetSchema,
    script: z
      .string()
      .min(1, 'the script is empty')
      .max(kScriptCharsMax, `a script has at most ${kScriptCharsMax} characters`)
      .refine((text) => !text.includes('\0'), 'a script cannot contain NUL'),
    /** A label for people, e.g. the file name. */
    name: z.string().min(1).max(128).optional(),
    /** Run the whole script this many times as phases 1..N (scripts without phase markers). */
    phases: z.number().int().min(1).max(kPhasesMax).optional(),
    /** Nodes per batch: "10" or "10%"; default every node at once. */
    batch: z.string().max(16).superRefine(parsesWith(parseBatchLimit)).optional(),
    /** Per-phase success rule: "90%" or a node count; default every node. */
    minSuccess: z.string().max(16).superRefine(parsesWith(parseSuccessRule)).optional(),
    /** $1 ... of the script. */
    args: z.array(z.string().max(4096).refine((a) => !a.includes('\0'), 'an argument cannot contain NUL')).max(kScriptArgsMax).optional(),
    interpreter: z.enum(['bash', 'sh']).optional(),
  })
  .strict();

export type ScriptRunRequest = z.infer<typeof kScriptRunSchema>;
