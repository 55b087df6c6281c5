import type { Strategy } from '../types';
import { binpack } from './binpack';
import { spread } from './spread';
import { weighted } from './weighted';

export const STRATEGIES: Record<string, Strategy> = { spread, binpack, weighted };

export function findStrategy(name: string): Strategy | undefined {
  return Object.hasOwn(STRATEGIES, name) ? STRATEGIES[name] : undefined;
}
