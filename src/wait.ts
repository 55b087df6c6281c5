// Polls until `attempt` succeeds or the deadline passes; `stop` can end the wait early with a
// reason (a container that exited will never answer).
export async function waitFor<T>(
  what: string,
  attempt: () => Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; stop?: () => Promise<string | undefined> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
    }
    const reason = opts.stop ? await opts.stop() : undefined;
    if (reason) throw new Error(`${what}: ${reason}`);
    if (Date.now() >= deadline) {
      throw new Error(`${what}: no answer within ${Math.round(opts.timeoutMs / 1000)} s (last error: ${last instanceof Error ? last.message : String(last)})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
