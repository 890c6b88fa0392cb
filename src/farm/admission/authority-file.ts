import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';
import { AdmissionError, FarmAuthority, kAuthorityFileSchema } from './farm-authority.js';

/**
 * The farm authority's file: the I/O half of farm-authority.ts. The authority only marks
 * itself unsaved; whoever stepped the core that changed it calls persist() before acting
 * on that step's outputs, so a grant or a decision never leaves before the record that
 * backs it is on disk, and the steps themselves stay free of I/O.
 */
export class AuthorityFile {
  /** Whole-file writes, for tests and metrics: one per batch of changes, not one per change. */
  writes = 0;

  constructor(readonly path: string) {}

  /** The authority in the file; null when there is none. A corrupt file is an error, never replaced. */
  load(): FarmAuthority | null {
    let file;
    try {
      file = readJsonFile(this.path, kAuthorityFileSchema, 'farm authority file');
    } catch (error) {
      throw new AdmissionError('GALAXY_ADMISSION_CORRUPT', (error as Error).message);
    }
    return file === null ? null : new FarmAuthority(file);
  }

  /** Writes the authority when it has unsaved changes; true when it wrote. */
  persist(authority: FarmAuthority | null): boolean {
    if (authority === null || !authority.unsaved) return false;
    writeFileAtomic(this.path, authority.fileText());
    authority.saved();
    this.writes++;
    return true;
  }
}
