// A small XML reader for S3 responses (ListBucketResult, InitiateMultipartUploadResult, Error ...):
// elements, text, CDATA, the five named entities and numeric references. Attributes, namespaces
// and processing instructions are skipped. Not a general XML parser; enough for S3's documents.

export interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    switch (e) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

export function parseXml(src: string): XmlNode {
  const root: XmlNode = { name: '#document', children: [], text: '' };
  const stack: XmlNode[] = [root];
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      top.text += decodeEntities(src.slice(i));
      break;
    }
    if (lt > i) top.text += decodeEntities(src.slice(i, lt));
    if (src.startsWith('<?', lt)) {
      const e = src.indexOf('?>', lt);
      if (e < 0) throw new Error('xml: unterminated processing instruction');
      i = e + 2;
    } else if (src.startsWith('<!--', lt)) {
      const e = src.indexOf('-->', lt);
      if (e < 0) throw new Error('xml: unterminated comment');
      i = e + 3;
    } else if (src.startsWith('<![CDATA[', lt)) {
      const e = src.indexOf(']]>', lt);
      if (e < 0) throw new Error('xml: unterminated CDATA');
      top.text += src.slice(lt + 9, e);
      i = e + 3;
    } else if (src.startsWith('<!', lt)) {
      const e = src.indexOf('>', lt);
      if (e < 0) throw new Error('xml: unterminated declaration');
      i = e + 1;
    } else if (src[lt + 1] === '/') {
      const e = src.indexOf('>', lt);
      if (e < 0) throw new Error('xml: unterminated end tag');
      const name = localName(src.slice(lt + 2, e).trim());
      if (stack.length < 2 || top.name !== name) throw new Error(`xml: unexpected </${name}>`);
      stack.pop();
      i = e + 1;
    } else {
      const e = src.indexOf('>', lt);
      if (e < 0) throw new Error('xml: unterminated start tag');
      let body = src.slice(lt + 1, e);
      const selfClosing = body.endsWith('/');
      if (selfClosing) body = body.slice(0, -1);
      const m = /^[^\s/>]+/.exec(body);
      if (!m) throw new Error('xml: bad start tag');
      const node: XmlNode = { name: localName(m[0]), children: [], text: '' };
      top.children.push(node);
      if (!selfClosing) stack.push(node);
      i = e + 1;
    }
  }
  if (stack.length !== 1) throw new Error(`xml: <${stack[stack.length - 1]!.name}> is not closed`);
  return root;
}

export function child(n: XmlNode | undefined, name: string): XmlNode | undefined {
  return n?.children.find((c) => c.name === name);
}

export function childrenNamed(n: XmlNode | undefined, name: string): XmlNode[] {
  return n ? n.children.filter((c) => c.name === name) : [];
}

export function childText(n: XmlNode | undefined, name: string): string | undefined {
  return child(n, name)?.text;
}

/** The document's root element. */
export function rootElement(doc: XmlNode): XmlNode | undefined {
  return doc.children[0];
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
