// A loopback OTLP/HTTP trace collector for tests: POST /v1/traces with an ExportTraceServiceRequest
// in protobuf (gzip or not), as the OTLP HTTP exporter sends it; spans are decoded with protobufjs
// from the message layout of opentelemetry-proto (trace/v1, common/v1, resource/v1) and kept in memory.
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { freePort } from '../harness/ports.ts';

// The fields a test reads, with opentelemetry-proto's field numbers.
const root = protobuf.Root.fromJSON({
  nested: {
    otlp: {
      nested: {
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
        ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
        Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
        ScopeSpans: { fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } } },
        InstrumentationScope: { fields: { name: { type: 'string', id: 1 } } },
        Span: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            parentSpanId: { type: 'bytes', id: 4 },
            name: { type: 'string', id: 5 },
            kind: { type: 'int32', id: 6 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
          },
        },
        KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } },
          fields: {
            stringValue: { type: 'string', id: 1 },
            boolValue: { type: 'bool', id: 2 },
            intValue: { type: 'int64', id: 3 },
            doubleValue: { type: 'double', id: 4 },
          },
        },
      },
    },
  },
});
const Request = root.lookupType('otlp.ExportTraceServiceRequest');

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
}

export interface Collector {
  port: number;
  spans: CollectedSpan[];
  requests: number;
  /** Headers of the last export request. */
  lastHeaders: Record<string, string | string[] | undefined>;
  close(): Promise<void>;
}

type Kv = { key: string; value?: { stringValue?: string; boolValue?: boolean; intValue?: unknown; doubleValue?: number } };

function attrs(kvs: Kv[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(String(v.intValue)) : v.doubleValue);
  }
  return out;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

export async function startCollector(): Promise<Collector> {
  const port = await freePort();
  const c: Collector = { port, spans: [], requests: 0, lastHeaders: {}, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      try {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        c.requests++;
        c.lastHeaders = req.headers;
        let body = Buffer.concat(parts);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const msg = Request.toObject(Request.decode(body), { defaults: false }) as {
          resourceSpans?: Array<{ resource?: { attributes?: Kv[] }; scopeSpans?: Array<{ spans?: Array<{ traceId?: Uint8Array; spanId?: Uint8Array; parentSpanId?: Uint8Array; name?: string; kind?: number; attributes?: Kv[] }> }> }>;
        };
        for (const rs of msg.resourceSpans ?? []) {
          const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              c.spans.push({ traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name ?? '', kind: s.kind ?? 0, service, attributes: attrs(s.attributes) });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  c.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return c;
}
