import { describe, expect, it } from 'vitest';
import { requestedImage } from './flavor';

const images = { mysql: 'berth/mysql:9.7', mariadb: 'berth/mariadb:10.11' };

describe('requestedImage', () => {
  it.each([
    [{ image: '', flavor: '' }, undefined],
    [{ image: 'mysql:8.4', flavor: '' }, 'mysql:8.4'],
    [{ image: '', flavor: 'mysql' }, 'berth/mysql:9.7'],
    [{ image: '', flavor: 'mariadb' }, 'berth/mariadb:10.11'],
  ])('%o gives %s', (req, want) => expect(requestedImage(req, images)).toBe(want));

  it.each([
    [{ image: 'mysql:8.4', flavor: 'mysql' }, /image or a flavor, not both/],
    [{ image: '', flavor: 'postgres' }, /unknown flavor "postgres": use mysql or mariadb/],
    [{ image: '', flavor: 'toString' }, /unknown flavor/],
    [{ image: 'Bad Image!', flavor: '' }, /not a valid image reference/],
  ])('%o is refused', (req, msg) => expect(() => requestedImage(req, images)).toThrow(msg));
});
