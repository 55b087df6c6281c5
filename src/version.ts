// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (() => {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      /* next */
    }
  }
  return 'unknown';
})();
