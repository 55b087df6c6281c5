import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';

// When a policy's backups (or drills) are due. Pure: the clock is a parameter.
//
// A cron schedule fires at the same instant for every instance it covers; 500 instances would
// then all stream at 02:00. Each instance instead starts at fire + its own offset inside the
// policy's spread window, the offset a stable hash of the instance id: the same instance keeps
// the same slot from one day (and one manager restart) to the next, and the fleet's starts are
// spread evenly over the window.

// Cron expressions are 5 fields (minute first) or 6 (seconds first), evaluated in UTC.
export function validateCron(expr: string): string | undefined {
  try {
    CronExpressionParser.parse(expr, { tz: 'UTC' });
    return undefined;
  } catch (err) {
    return `schedule "${expr}" is not a cron expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

// The instance's offset in [0, windowMs): the first 6 bytes of SHA-256(id), scaled.
export function spreadOffsetMs(id: string, windowMs: number): number {
  if (windowMs <= 0) return 0;
  const h = createHash('sha256').update(id).digest().readUIntBE(0, 6);
  return Math.floor((h / 2 ** 48) * windowMs);
}

// The time between two fires around `at`: a spread window wider than this would let one slot
// run into the next fire's.
export function cronPeriodMs(expr: string, at: number): number {
  const e = CronExpressionParser.parse(expr, { currentDate: new Date(at), tz: 'UTC' });
  const a = e.next().getTime();
  const b = e.next().getTime();
  return b - a;
}

// The latest slot (fire + offset) at or before `now`, or undefined when the schedule never fired.
export function lastSlotMs(expr: string, id: string, windowMs: number, now: number): number | undefined {
  const w = Math.min(windowMs, cronPeriodMs(expr, now));
  const off = spreadOffsetMs(id, w);
  const e = CronExpressionParser.parse(expr, { currentDate: new Date(now - off + 1), tz: 'UTC' });
  try {
    return e.prev().getTime() + off;
  } catch {
    return undefined;
  }
}

export interface DueInput {
  schedule: string;
  spreadMs: number;
  id: string;
  // The policy's creation (nothing is due for slots before it) and the last run (ms; 0 none).
  sinceMs: number;
  lastRunMs: number;
  now: number;
}

// Due when a slot passed after both the policy's creation and the last run: a manager that was
// down over several slots runs once, not once per missed slot.
export function isDue(i: DueInput): boolean {
  const slot = lastSlotMs(i.schedule, i.id, i.spreadMs, i.now);
  return slot !== undefined && slot > i.sinceMs && slot > i.lastRunMs && slot <= i.now;
}

// The next slot after `now` (for status displays).
export function nextSlotMs(expr: string, id: string, windowMs: number, now: number): number {
  const w = Math.min(windowMs, cronPeriodMs(expr, now));
  const off = spreadOffsetMs(id, w);
  const e = CronExpressionParser.parse(expr, { currentDate: new Date(now - off), tz: 'UTC' });
  return e.next().getTime() + off;
}
