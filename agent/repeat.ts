// Runs `run` now and then again `intervalMs` after each run ends (never two at once, so a slow
// round delays the next instead of piling up); a failed round is handed to `onError` and the
// next one still comes. The agent's background probes share this loop.
export class Repeat {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly run: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async loop(): Promise<void> {
    try {
      await this.run();
    } catch (err) {
      this.onError(err);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.loop(), this.intervalMs);
  }
}
