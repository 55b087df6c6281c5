import { afterEach, describe, expect, it } from 'vitest';
import { logFormatFromEnv, prettyWanted } from './logformat';

describe('log format', () => {
  const saved = process.env.BERTH_LOG_FORMAT;
  afterEach(() => {
    if (saved === undefined) delete process.env.BERTH_LOG_FORMAT;
    else process.env.BERTH_LOG_FORMAT = saved;
  });

  it.each([
    ['auto', true, true],
    ['auto', false, false],
    ['pretty', false, true],
    ['json', true, false],
  ] as const)('%s on a terminal=%s is pretty=%s', (format, tty, want) => expect(prettyWanted(format, tty)).toBe(want));

  it.each([
    [undefined, 'auto'],
    ['json', 'json'],
    ['pretty', 'pretty'],
    ['yaml', 'auto'],
  ])('BERTH_LOG_FORMAT=%s gives %s', (env, want) => {
    if (env === undefined) delete process.env.BERTH_LOG_FORMAT;
    else process.env.BERTH_LOG_FORMAT = env;
    expect(logFormatFromEnv()).toBe(want);
  });
});
