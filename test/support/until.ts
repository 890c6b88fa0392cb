// The wait of the tests that drive hosts in this process (AgentHost, StackDriver,
// NodeDriver, FarmRpc and the messenger on loopback): poll a synchronous condition.

/** Polls `condition` every 10 ms until it holds; throws naming `what` after timeoutMs. */
export async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
