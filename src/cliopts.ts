import { InvalidArgumentError, Option } from 'commander';
import { LOG_FORMATS, logFormatFromEnv } from './logformat';
import { parseCpu, parseSize } from './units';

// commander option parsers shared by the three programs: a bad value fails at start-up with a
// message naming the option, never later.
export function sizeOpt(v: string): number {
  try {
    return parseSize(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function cpuOpt(v: string): number {
  try {
    return parseCpu(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function portRangeOpt(v: string): [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535 || lo > hi) throw new InvalidArgumentError(`want a port range like 3301-3399, got "${v}"`);
  return [lo, hi];
}

export function labelOpt(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const m = /^([a-z][a-z0-9_.-]{0,62})=([A-Za-z0-9_.-]{1,63})$/.exec(v);
  if (!m) throw new InvalidArgumentError(`want a label like zone=a, got "${v}"`);
  return { ...prev, [m[1]!]: m[2]! };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function hostPortOpt(v: string): string {
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(v) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(v)) {
    throw new InvalidArgumentError(`want HOST:PORT, got "${v}"`);
  }
  return v;
}

// One or more HOST:PORT, comma-separated (an agent given every manager's registry address).
export function hostPortListOpt(v: string): string[] {
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError(`want HOST:PORT[,HOST:PORT...], got "${v}"`);
  return list.map(hostPortOpt);
}

export function secondsOpt(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`want a number of seconds above 0, got "${v}"`);
  return n;
}

// --log-format for the long-running programs: auto picks pretty lines on a terminal, JSON else.
export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines: pretty (one coloured line per event), json, or auto: pretty on a terminal (or BERTH_LOG_FORMAT)')
    .choices(LOG_FORMATS)
    .default(logFormatFromEnv());
}
