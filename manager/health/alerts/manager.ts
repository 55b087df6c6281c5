import type { Logger } from '../../../src/log';
import { errorMessage } from '../../../src/errors';
import type { AlertRule, Firing, HealthState } from './types';
import type { WebhookSender } from './webhook';

export interface ActiveAlert extends Firing {
  startsAt: string;
}

export interface AlertNotice extends Firing {
  status: 'firing' | 'resolved';
  startsAt: string;
  endsAt?: string;
}

// Pure: what changed between the alerts that were firing and those firing now.
export function diffAlerts(active: Map<string, ActiveAlert>, now: Firing[], at: string): { started: ActiveAlert[]; resolved: ActiveAlert[] } {
  const seen = new Set<string>();
  const started: ActiveAlert[] = [];
  for (const f of now) {
    const key = alertKey(f);
    if (seen.has(key)) continue;
    seen.add(key);
    if (!active.has(key)) started.push({ ...f, startsAt: at });
  }
  const resolved = [...active.entries()].filter(([k]) => !seen.has(k)).map(([, a]) => a);
  return { started, resolved };
}

export const alertKey = (f: Pick<Firing, 'rule' | 'subject'>) => `${f.rule}/${f.subject}`;

// Gather → decide → act: every interval it gathers the state, asks each rule what fires (pure),
// and acts on the difference: an event and a webhook notice for each alert that starts or ends.
export class AlertManager {
  private readonly active = new Map<string, ActiveAlert>();
  private timer: NodeJS.Timeout | undefined;
  evaluations = 0;

  constructor(
    private readonly rules: AlertRule[],
    private readonly gather: () => HealthState,
    private readonly addEvent: (kind: string, subject: string, message: string) => void,
    private readonly webhook: WebhookSender | undefined,
    private readonly log: Logger,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.evaluate(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.webhook?.stop();
  }

  firing(): ActiveAlert[] {
    return [...this.active.values()].sort((a, b) => a.startsAt.localeCompare(b.startsAt) || alertKey(a).localeCompare(alertKey(b)));
  }

  evaluate(): { started: ActiveAlert[]; resolved: ActiveAlert[] } {
    this.evaluations++;
    const state = this.gather();
    const now: Firing[] = [];
    for (const r of this.rules) {
      try {
        now.push(...r.evaluate(state));
      } catch (err) {
        this.log.error({ rule: r.name, err: errorMessage(err) }, 'alert rule failed');
      }
    }
    const at = new Date(state.now).toISOString();
    const d = diffAlerts(this.active, now, at);
    for (const a of d.started) {
      this.active.set(alertKey(a), a);
      this.addEvent(`alert.${a.rule}.firing`, a.subject, a.message);
      this.log.warn({ rule: a.rule, subject: a.subject }, a.message);
      this.notify({ ...a, status: 'firing' });
    }
    for (const a of d.resolved) {
      this.active.delete(alertKey(a));
      this.addEvent(`alert.${a.rule}.resolved`, a.subject, `resolved: ${a.message}`);
      this.log.info({ rule: a.rule, subject: a.subject }, 'alert resolved');
      this.notify({ ...a, status: 'resolved', endsAt: at });
    }
    return d;
  }

  private notify(n: AlertNotice): void {
    if (this.webhook) void this.webhook.send({ version: 1, source: 'berth-manager', alert: n });
  }
}
