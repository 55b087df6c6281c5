import bytes from 'bytes';

// Sizes as DBAs write them: `4G`, `512M`, `1.5T`, `4GiB`, `4GB` or plain bytes. Binary multiples
// throughout (1G = 1024^3), as MySQL and Docker read them.
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)$/i;

export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new RangeError(`invalid size ${input}: want a whole number of bytes`);
    return input;
  }
  const m = SIZE.exec(input.trim());
  if (!m) throw new RangeError(`invalid size "${input}": want a number with an optional unit, like 512M, 4G or 1T`);
  const unit = m[2]!.toLowerCase();
  // `bytes` reads "4gb" (binary multiples); it does not take the bare suffixes DBAs use.
  const value = unit === '' ? Number(m[1]) : bytes.parse(`${m[1]}${unit}b`);
  if (value === null || !Number.isFinite(value)) throw new RangeError(`invalid size "${input}"`);
  const rounded = Math.floor(value);
  if (!Number.isSafeInteger(rounded)) throw new RangeError(`size "${input}" is too large`);
  return rounded;
}

export function formatSize(n: number): string {
  return bytes.format(n, { unitSeparator: '', decimalPlaces: 1 })?.replace(/B$/, '').replace(/\.0(?=[KMGTP])/, '') ?? String(n);
}

// CPU as Kubernetes and Docker users write it: `2`, `0.5`, `1.25` cores, or `500m` millicores.
const CPU = /^(\d+(?:\.\d+)?)(m?)$/;

export function parseCpu(input: string | number): number {
  const s = String(input).trim();
  const m = CPU.exec(s);
  if (!m) throw new RangeError(`invalid CPU "${input}": want cores like 2 or 0.5, or millicores like 500m`);
  const millis = m[2] === 'm' ? Number(m[1]) : Number(m[1]) * 1000;
  if (!Number.isInteger(millis)) throw new RangeError(`invalid CPU "${input}": the smallest step is 1m (a thousandth of a core)`);
  return millis;
}

export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : millis % 100 === 0 ? (millis / 1000).toFixed(1) : `${millis}m`;
}
