// SigV4 / SigV2 signing against AWS's published examples, plus MD5 and the XML reader.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { EMPTY_SHA256, amzDate, canonicalQuery, sha256Hex, signV2, signV4, toHex, uriEncode } from '../../lib/objstore/kit/sign.ts';
import { md5 } from '../../lib/hash/md5.ts';
import { payloadHash } from '../../bench/objstore/s3-handwritten.ts';
import { childText, childrenNamed, parseXml, rootElement } from '../../lib/objstore/kit/xml.ts';

const S3_EXAMPLE = {
  accessKey: 'AKIAIOSFODNN7EXAMPLE',
  secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 's3',
};
const SUITE = {
  accessKey: 'AKIDEXAMPLE',
  secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
};

test('SigV4 S3 example: GET Object with Range', async () => {
  const r = await signV4({
    ...S3_EXAMPLE,
    method: 'GET',
    path: '/test.txt',
    query: [],
    headers: { Host: 'examplebucket.s3.amazonaws.com', Range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z' },
    payloadHash: EMPTY_SHA256,
  });
  assert.is(r.stringToSign.split('\n')[3], '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972');
  assert.is(r.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  assert.is(r.authorization, 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
});

test('SigV4 S3 example: PUT Object "test$file.text" with a storage class', async () => {
  const body = 'Welcome to Amazon S3.';
  const hash = await sha256Hex(body);
  assert.is(hash, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
  const r = await signV4({
    ...S3_EXAMPLE,
    method: 'PUT',
    path: '/' + uriEncode('test$file.text', true),
    query: [],
    headers: {
      Host: 'examplebucket.s3.amazonaws.com', Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY', 'x-amz-content-sha256': hash,
    },
    payloadHash: hash,
  });
  assert.ok(r.canonicalRequest.startsWith('PUT\n/test%24file.text\n\n'), r.canonicalRequest);
  assert.is(r.stringToSign.split('\n')[3], '9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d');
  assert.is(r.signature, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
});

test('SigV4 S3 example: GET ?lifecycle (empty-valued sub-resource)', async () => {
  const r = await signV4({
    ...S3_EXAMPLE,
    method: 'GET', path: '/', query: [['lifecycle', '']],
    headers: { host: 'examplebucket.s3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': EMPTY_SHA256 },
    payloadHash: EMPTY_SHA256,
  });
  assert.is(r.canonicalRequest.split('\n')[2], 'lifecycle=');
  assert.is(r.signature, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
});

test('SigV4 S3 example: list objects ?max-keys=2&prefix=J', async () => {
  const r = await signV4({
    ...S3_EXAMPLE,
    method: 'GET', path: '/', query: [['prefix', 'J'], ['max-keys', '2']],
    headers: { host: 'examplebucket.s3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': EMPTY_SHA256 },
    payloadHash: EMPTY_SHA256,
  });
  assert.is(r.canonicalRequest.split('\n')[2], 'max-keys=2&prefix=J', 'query sorted by name');
  assert.is(r.stringToSign.split('\n')[3], 'df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7');
  assert.is(r.signature, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
});

test('SigV4 test suite: get-vanilla, get-vanilla-query-order-key-case, get-utf8', async () => {
  const base = { ...SUITE, method: 'GET', payloadHash: EMPTY_SHA256, headers: { Host: 'example.amazonaws.com', 'X-Amz-Date': '20150830T123600Z' } };
  const vanilla = await signV4({ ...base, path: '/', query: [] });
  assert.is(vanilla.authorization, 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  const order = await signV4({ ...base, path: '/', query: [['Param2', 'value2'], ['Param1', 'value1']] });
  assert.is(order.signature, 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  const utf8 = await signV4({ ...base, path: '/' + uriEncode('ሴ', true), query: [] });
  assert.is(utf8.signature, '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85');
});

test('SigV4: header values are trimmed and inner spaces collapsed; a changed header changes the signature', async () => {
  const base = { ...SUITE, method: 'GET', path: '/', query: [] as Array<[string, string]>, payloadHash: EMPTY_SHA256 };
  const a = await signV4({ ...base, headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', 'My-Header1': '  value1   with  spaces ' } });
  assert.ok(a.canonicalRequest.includes('my-header1:value1 with spaces\n'), a.canonicalRequest);
  const b = await signV4({ ...base, headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', 'My-Header1': 'value2' } });
  assert.is.not(a.signature, b.signature);
  let threw = false;
  try { await signV4({ ...base, headers: { host: 'h' } }); } catch { threw = true; }
  assert.ok(threw, 'x-amz-date is required');
});

test('uriEncode / canonicalQuery / amzDate', () => {
  assert.is(uriEncode('a b/c~d_e.f-g+h=&?', true), 'a%20b/c~d_e.f-g%2Bh%3D%26%3F');
  assert.is(uriEncode('a/b'), 'a%2Fb');
  assert.is(uriEncode('ä€'), '%C3%A4%E2%82%AC');
  assert.is(canonicalQuery([['uploads', ''], ['b', '2'], ['a', 'x/y'], ['a', 'w']]), 'a=w&a=x%2Fy&b=2&uploads=');
  assert.is(amzDate(new Date(Date.UTC(2013, 4, 24, 0, 0, 0, 123))), '20130524T000000Z');
});

test('SigV2 examples (HMAC-SHA1): GET, PUT with Content-Type, bucket listing', async () => {
  const creds = { accessKey: 'AKIAIOSFODNN7EXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const get = await signV2({ ...creds, method: 'GET', resource: '/johnsmith/photos/puppy.jpg', query: [], headers: { Date: 'Tue, 27 Mar 2007 19:36:42 +0000' } });
  assert.is(get.stringToSign, 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg');
  assert.is(get.authorization, 'AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=');
  const put = await signV2({ ...creds, method: 'PUT', resource: '/johnsmith/photos/puppy.jpg', query: [], headers: { 'Content-Type': 'image/jpeg', Date: 'Tue, 27 Mar 2007 21:15:45 +0000' } });
  assert.is(put.authorization, 'AWS AKIAIOSFODNN7EXAMPLE:MyyxeRY7whkBe+bq8fHCL/2kKUg=');
  const list = await signV2({
    ...creds, method: 'GET', resource: '/johnsmith/',
    query: [['prefix', 'photos'], ['max-keys', '50'], ['marker', 'puppy']],
    headers: { Date: 'Tue, 27 Mar 2007 19:42:41 +0000' },
  });
  assert.is(list.authorization, 'AWS AKIAIOSFODNN7EXAMPLE:htDYFYduRNen8P9ZfE/s9SuKy0U=', 'list parameters are not sub-resources');
  const sub = await signV2({ ...creds, method: 'POST', resource: '/b/k', query: [['uploadId', 'X'], ['partNumber', '2']], headers: { 'x-amz-date': 'd', 'x-amz-meta-a': 'b' } });
  assert.is(sub.stringToSign, 'POST\n\n\n\nx-amz-date:d\nx-amz-meta-a:b\n/b/k?partNumber=2&uploadId=X');
});

test('md5 matches RFC 1321 vectors and node:crypto at block boundaries', () => {
  const e = new TextEncoder();
  assert.is(toHex(md5(e.encode(''))), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.is(toHex(md5(e.encode('abc'))), '900150983cd24fb0d6963f7d28e17f72');
  assert.is(toHex(md5(e.encode('message digest'))), 'f96b697d7cb7938d525a2f31aaf161d0');
  assert.is(toHex(md5(e.encode('12345678901234567890123456789012345678901234567890123456789012345678901234567890'))), '57edf4a22be3c955ac49da2e2107b67a');
  for (const n of [55, 56, 57, 63, 64, 65, 119, 120, 1000, 65537]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
    assert.is(toHex(md5(data)), createHash('md5').update(data).digest('hex'), `length ${n}`);
  }
});

test('xml reader: ListBucketResult with entities, CDATA, namespaces', () => {
  const doc = parseXml(`<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>
<Contents><Key>a &amp; b&lt;c&gt;&#233;&#x4e2d;</Key><Size>3</Size></Contents>
<Contents><Key><![CDATA[x<y]]></Key></Contents><CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>
<IsTruncated>false</IsTruncated><Empty/></ListBucketResult>`);
  const root = rootElement(doc)!;
  assert.is(root.name, 'ListBucketResult');
  assert.equal(childrenNamed(root, 'Contents').map((c) => childText(c, 'Key')), ['a & b<c>é中', 'x<y']);
  assert.is(childText(childrenNamed(root, 'CommonPrefixes')[0], 'Prefix'), 'dir/');
  assert.is(childText(root, 'IsTruncated'), 'false');
  assert.throws(() => parseXml('<a><b></a>'), /unexpected <\/a>/);
  assert.throws(() => parseXml('<a>'), /not closed/);
});

test('payload hash: signed over http, UNSIGNED-PAYLOAD over https, empty body hashed either way', async () => {
  const body = new TextEncoder().encode('Welcome to Amazon S3.');
  assert.is(await payloadHash('http', body), '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
  assert.is(await payloadHash('https', body), 'UNSIGNED-PAYLOAD');
  assert.is(await payloadHash('https', undefined), EMPTY_SHA256);
  assert.is(await payloadHash('http', new Uint8Array(0)), EMPTY_SHA256);
});

test.run();
