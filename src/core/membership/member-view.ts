/**
 * One member of the farm as a node sees it: what the membership engine knows of it
 * (status, incarnation, tags) in the form the agent's services, the cluster layer and
 * the API (GET /v1/members) share.
 */
export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly status: 'alive' | 'suspect' | 'dead' | 'left';
  readonly incarnation: number;
  readonly self: boolean;
  readonly tags: Readonly<Record<string, string>>;
}
