// Loads proto/ with protobufjs (the independent reference codec for cross-checks).
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';

const protoDir = fileURLToPath(new URL('../../proto/', import.meta.url));
let rootP: Promise<protobuf.Root> | undefined;

export function loadProtos(): Promise<protobuf.Root> {
  rootP ??= (async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (target.startsWith('google/') ? target : protoDir + target);
    await root.load(['thanos/store.proto', 'thanos/info.proto', 'thanos/hints.proto', 'prometheus/remote.proto'], { keepCase: true });
    root.resolveAll();
    return root;
  })();
  return rootP;
}

export async function pbType(name: string): Promise<protobuf.Type> {
  return (await loadProtos()).lookupType(name);
}

/** protobufjs encode of a plain object (fromObject handles enums by name and longs from numbers). */
export async function pbEncode(name: string, obj: Record<string, unknown>): Promise<Uint8Array> {
  const t = await pbType(name);
  const err = t.verify(t.fromObject(obj));
  if (err) throw new Error(`${name}: ${err}`);
  return t.encode(t.fromObject(obj)).finish();
}

/** protobufjs decode to a plain object with longs as strings, enums as names, defaults filled. */
export async function pbDecode(name: string, buf: Uint8Array): Promise<Record<string, any>> {
  const t = await pbType(name);
  return t.toObject(t.decode(buf), { longs: String, enums: String, bytes: Array, defaults: true, oneofs: true }) as Record<string, any>;
}
