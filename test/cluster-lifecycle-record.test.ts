// Proves the lifecycle record's codec (src/cluster/lifecycle/lifecycle-record.ts): a record
// round-trips through its FMIDB text; a replicated value that is not a record (bad JSON, a
// number, an unknown field, a bad node id, a version that is not semver, too many members)
// decodes to null, so a peer's bad value places and installs nothing; roleComponents
// answers a role's components in their stored order and nothing for an unknown role.
import { describe, expect, it } from 'vitest';
import { decodeLifecycleRecord, encodeLifecycleRecord, kLifecycleMembersMax, lifecycleSubject, roleComponents, type LifecycleRecord } from '../src/cluster/lifecycle/lifecycle-record.js';

const kRecord: LifecycleRecord = {
  format: 1,
  name: 'shop',
  profile: 'lc@1.0.0',
  on: 'lc',
  roles: [
    { role: 'primary', components: [{ name: 'measurement', version: '0.1.0', farm: true }, { name: 'greeter', version: '1.0.0', config: { greeting: 'hi' }, farm: false }] },
    { role: 'replica', components: [{ name: 'peer-echo', version: '1.0.0', farm: false }] },
  ],
  members: [{ node: '0123456789abcdef', role: 'primary' }, { node: 'fedcba9876543210', role: 'replica' }],
  leftovers: [{ node: '00000000000000aa', components: ['peer-echo'] }],
  updatedAtMs: 1_700_000_000_000,
  deleted: false,
};

describe('the lifecycle record', () => {
  it('round-trips through its FMIDB text under farm/lifecycle/NAME', () => {
    expect(lifecycleSubject('shop')).toBe('farm/lifecycle/shop');
    expect(decodeLifecycleRecord(encodeLifecycleRecord(kRecord))).toEqual(kRecord);
  });

  it('decodes a bad replicated value to null', () => {
    const bad: unknown[] = [
      undefined,
      42,
      '{not json',
      JSON.stringify({ ...kRecord, extra: 1 }),
      JSON.stringify({ ...kRecord, format: 2 }),
      JSON.stringify({ ...kRecord, members: [{ node: 'XYZ', role: 'primary' }] }),
      JSON.stringify({ ...kRecord, roles: [{ role: 'primary', components: [{ name: 'greeter', version: 'latest', farm: false }] }] }),
      JSON.stringify({ ...kRecord, members: Array.from({ length: kLifecycleMembersMax + 1 }, (_, i) => ({ node: i.toString(16).padStart(16, '0'), role: 'replica' })) }),
    ];
    for (const value of bad) expect(decodeLifecycleRecord(value as string), String(value).slice(0, 60)).toBeNull();
  });

  it('gives a role its components in stored (start) order', () => {
    expect(roleComponents(kRecord, 'primary').map((c) => c.name)).toEqual(['measurement', 'greeter']);
    expect(roleComponents(kRecord, 'nobody')).toEqual([]);
  });
});
