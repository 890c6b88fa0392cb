import type { MemoryViews } from '../runtime/memory-views.js';
import { checksum, datagramChecksum } from '../wire/checksum.js';
import { decode, encode } from '../wire/ts-codec.js';
import * as T from '../table/ts-table-kernels.js';
import * as M from '../fmidb/ts-fmidb-kernels.js';
import * as P from '../cluster-channels/ts-pack-kernels.js';
import type { Kernels } from '../runtime/kernels.js';

/** The TypeScript backend of the kernels, over the given memory views. */
export function createTsKernels(views: MemoryViews): Kernels {
  return {
    backend: 'ts',
    checksum: (pointer, length) => checksum(views, pointer, length),
    datagramChecksum: (pointer, length) => datagramChecksum(views, pointer, length),
    setDatagramChecksums: (on) => {
      views.datagramChecksums = on;
    },
    decode: (packet, length, limit, tape) => decode(views, packet, length, limit, tape),
    encode: (tape, out, limit) => encode(views, tape, out, limit),
    findRow: (table, high, low) => T.findRow(views, table, high, low),
    insertRow: (table, high, low) => T.insertRow(views, table, high, low),
    removeRow: (table, row) => T.removeRow(views, table, row),
    mergeDigest: (table, packet, length, limit, nowMs, out, outCapacity) =>
      T.mergeDigest(views, table, packet, length, limit, nowMs, out, outCapacity),
    sweep: (table, nowMs, phiKSquared, varianceMinMs2, samplesMin, silenceMaxMs, out, outCapacity) =>
      T.sweep(views, table, nowMs, phiKSquared, varianceMinMs2, samplesMin, silenceMaxMs, out, outCapacity),
    encodeDigest: (table, rowList, rowCount, flags, out, limit) =>
      T.encodeDigest(views, table, rowList, rowCount, flags, out, limit),
    fmidbFindOrigin: (registry, high, low) => M.findOrigin(views, registry, high, low),
    fmidbInsertOrigin: (registry, high, low) => M.insertOrigin(views, registry, high, low),
    fmidbRemoveOrigin: (registry, row) => M.removeOrigin(views, registry, row),
    fmidbCompareDigest: (registry, versions, body, length, flags, out, outCapacity) =>
      M.compareDigest(views, registry, versions, body, length, flags, out, outCapacity),
    packRecords: (list, count, out, limit) => P.packRecords(views, list, count, out, limit),
    packMessages: (list, count, out, limit) => P.packMessages(views, list, count, out, limit),
    unpackRecords: (pack, length, recordsMax, out, outCapacity) => P.unpackRecords(views, pack, length, recordsMax, out, outCapacity),
  };
}
