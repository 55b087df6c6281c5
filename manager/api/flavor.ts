import { invalidArgument } from '../../src/errors';
import type { Flavor } from '../../src/mysql/dialect';
import { checkImage } from '../../src/validate';

export type FlavorImages = Record<Flavor, string>;

// The image a create asks for: an explicit image, the one configured for a flavor, or (neither
// given) undefined for the manager's default. Both, or a flavor berth does not know, is refused.
export function requestedImage(req: { image: string; flavor: string }, images: FlavorImages): string | undefined {
  const image = checkImage(req.image);
  if (!req.flavor) return image;
  if (req.image) throw invalidArgument('give an image or a flavor, not both');
  if (!Object.hasOwn(images, req.flavor)) throw invalidArgument(`unknown flavor "${req.flavor.slice(0, 40)}": use ${Object.keys(images).join(' or ')}`);
  return images[req.flavor as Flavor];
}
