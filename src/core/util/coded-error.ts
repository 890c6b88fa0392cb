/**
 * An operating failure with a stable code (fastify style: `GALAXY_AREA_WHAT`), which
 * callers, the API and the tests match on instead of the message. Each area subclasses
 * it with its own code union; the class name becomes `name`, so logs say which area.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
