// MD5 lives in lib/hash/md5.ts; this alias keeps lib/store's imports (relabel hashmod, index cache)
// working until they import it from there.
export { md5 } from '../../hash/md5.ts';
