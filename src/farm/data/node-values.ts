/** Dynamic values a component posted for a node (the per-node table the FMIDB replicates). */
export interface NodeValues {
  readonly node: string;
  readonly values: Readonly<Record<string, number | string>>;
  readonly updatedAt: string | null;
}
