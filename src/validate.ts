import { invalidArgument } from './errors';

// Instance and node names end up in container names, directory names and MySQL-facing tools:
// keep them to a DNS label so they are safe in all of them.
const NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkName(what: string, name: string | undefined): string {
  if (!name) throw invalidArgument(`${what} is required`);
  if (!NAME.test(name)) {
    throw invalidArgument(
      `${what} "${name.length > 70 ? name.slice(0, 64) + '…' : name}" is not valid: use 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'`,
    );
  }
  return name;
}

export const LIMITS = {
  minCpuMillis: 100,
  maxCpuMillis: 256_000,
  minMemoryBytes: 256 * 1024 ** 2,
  maxMemoryBytes: 4 * 1024 ** 4,
  minDiskBytes: 64 * 1024 ** 2,
  maxDiskBytes: 1024 ** 5,
} as const;

export interface Shape {
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
}

// Proto3 scalars arrive as 0 when unset; a shape of 0 is never meant, so 0 reads as "missing".
export function checkShape(r: { cpuMillis?: number; memoryBytes?: number; diskBytes?: number } | null | undefined): Shape {
  if (!r) throw invalidArgument('resources are required: cpu, memory and disk');
  const { cpuMillis = 0, memoryBytes = 0, diskBytes = 0 } = r;
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!whole(cpuMillis) || cpuMillis < LIMITS.minCpuMillis || cpuMillis > LIMITS.maxCpuMillis) {
    throw invalidArgument(`cpu must be between ${LIMITS.minCpuMillis}m and ${LIMITS.maxCpuMillis / 1000} cores (got ${cpuMillis}m)`);
  }
  if (!whole(memoryBytes) || memoryBytes < LIMITS.minMemoryBytes || memoryBytes > LIMITS.maxMemoryBytes) {
    throw invalidArgument(`memory must be between 256M and 4T (got ${memoryBytes} bytes)`);
  }
  if (!whole(diskBytes) || diskBytes < LIMITS.minDiskBytes || diskBytes > LIMITS.maxDiskBytes) {
    throw invalidArgument(`disk must be between 64M and 1P (got ${diskBytes} bytes)`);
  }
  return { cpuMillis, memoryBytes, diskBytes };
}
