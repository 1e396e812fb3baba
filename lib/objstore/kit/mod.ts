// The object-store kit: what every HTTP vendor plugin (plugins/objstore/<vendor>/) builds on, so
// providers never import each other. A new vendor is its folder plus one line in host/registry.ts.
//
//   http.ts    Thanos's shared `http_config` block; fetch with a response-header timeout
//   errors.ts  NetworkError (transient), describeNetErr, the "no object storage" error/classifier
//   retry.ts   retryable statuses, backoff
//   parts.ts   multipart / large-object part slicing of arrays and streams
//   sign.ts    AWS SigV4 / V2 signing, SHA-256, hex/base64, RFC 3986 URI encoding
//   xml.ts     a small XML reader for S3-style answers
//   sdkfetch.ts  the fetch a vendor SDK gets: ctx.fetch (the net grant) + response_header_timeout + trace
//
// Also used by vendors, owned elsewhere: config field readers (lib/config/fields.ts), durations
// (lib/duration/mod.ts), MD5 (lib/hash/md5.ts), the Bucket interface and object-name checks
// (lib/objstore/bucket.ts, util.ts).
export * from './http.ts';
export * from './errors.ts';
export * from './retry.ts';
export * from './parts.ts';
export * from './sign.ts';
export * from './xml.ts';
export * from './sdkfetch.ts';
export { md5 } from '../../hash/md5.ts';
