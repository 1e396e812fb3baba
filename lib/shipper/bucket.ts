// The bucket of a component for which uploads are optional (sidecar, receive): none configured
// means no shipper, any other failure to get it is an error.
import type { Bucket, ComponentContext } from '../sdk/mod.ts';
import { isNoObjectStorage } from '../objstore/kit/errors.ts';

/** ctx.bucket(), or undefined when the deployment configures no object storage. */
export async function optionalBucket(ctx: Pick<ComponentContext, 'bucket'>): Promise<Bucket | undefined> {
  try {
    return await ctx.bucket();
  } catch (e) {
    if (isNoObjectStorage(e)) return undefined;
    throw e;
  }
}
