import type { Logger } from '../../../src/log';
import { errorMessage } from '../../../src/errors';

export interface WebhookConfig {
  url: string;
  attempts: number;
  // First retry after this long, doubling each time up to maxBackoffMs.
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK: Omit<WebhookConfig, 'url'> = { attempts: 6, backoffMs: 500, maxBackoffMs: 30_000, timeoutMs: 5000 };

export interface Delivery {
  ok: boolean;
  attempts: number;
  error?: string;
}

// POSTs each payload as JSON, one at a time and in order, retrying with exponential backoff
// until a 2xx answer or the attempts run out.
export class WebhookSender {
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  delivered = 0;
  failed = 0;

  constructor(
    private readonly cfg: WebhookConfig,
    private readonly log: Logger,
    private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()),
  ) {}

  send(payload: unknown): Promise<Delivery> {
    const next = this.chain.then(() => this.deliver(payload));
    this.chain = next.catch(() => undefined);
    return next;
  }

  // Waits for everything queued so far.
  async flush(): Promise<void> {
    await this.chain;
  }

  stop(): void {
    this.stopped = true;
  }

  private async deliver(payload: unknown): Promise<Delivery> {
    const body = JSON.stringify(payload);
    let error = '';
    for (let attempt = 1; attempt <= this.cfg.attempts && !this.stopped; attempt++) {
      try {
        const res = await fetch(this.cfg.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'berth-manager' },
          body,
          signal: AbortSignal.timeout(this.cfg.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.delivered++;
          return { ok: true, attempts: attempt };
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        error = errorMessage(err);
      }
      if (attempt < this.cfg.attempts) {
        const wait = Math.min(this.cfg.maxBackoffMs, this.cfg.backoffMs * 2 ** (attempt - 1));
        this.log.warn({ url: this.cfg.url, attempt, error, retryInMs: wait }, 'alert webhook delivery failed; retrying');
        await this.sleep(wait);
      }
    }
    this.failed++;
    this.log.error({ url: this.cfg.url, error }, 'alert webhook delivery gave up');
    return { ok: false, attempts: this.cfg.attempts, error };
  }
}
