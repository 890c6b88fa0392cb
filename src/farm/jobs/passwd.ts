/**
 * A user of this node as /etc/passwd lists it. Parsed here rather than by running
 * `id` or `getent`: the lookup must not depend on what is installed, and a pure parser
 * is tested on fixed text. (Users only in LDAP or another NSS source are not found;
 * such nodes need them mirrored into /etc/passwd to run jobs as them.)
 */
export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Lines longer than this are skipped, not parsed: /etc/passwd lines are short. */
const kPasswdLineLengthMax = 4096;

/** The entry for `name` in passwd text, or null. Malformed lines are skipped. */
export function findPasswdEntry(text: string, name: string): PasswdEntry | null {
  for (const line of text.split('\n')) {
    if (line.length > kPasswdLineLengthMax || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 7 || fields[0] !== name) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!/^\d+$/.test(fields[2]!) || !/^\d+$/.test(fields[3]!) || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) continue;
    return { name, uid, gid, home: fields[5]! };
  }
  return null;
}

/** The name of uid in passwd text, or null. */
export function passwdNameOf(text: string, uid: number): string | null {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 7 && fields[2] === String(uid)) return fields[0]!;
  }
  return null;
}
