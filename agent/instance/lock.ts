// Calls on one instance run one after another (a remove that arrives while a create is still
// running waits for it, then removes everything); calls on different instances run at once.
export class InstanceLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.tails.set(id, settled);
    void settled.then(() => {
      if (this.tails.get(id) === settled) this.tails.delete(id);
    });
    return next;
  }

  busy(id: string): boolean {
    return this.tails.has(id);
  }
}
