// Errors raised by the block code. A corrupt block always names the block, the file and the section
// so an operator can find the bad byte range; readers never return partial results as success.

export class CorruptBlockError extends Error {
  constructor(
    public readonly block: string,
    public readonly file: string,
    public readonly section: string,
    public readonly detail: string,
    cause?: unknown,
  ) {
    super(`corrupt block ${block || '<unknown>'}: file ${file}: ${section}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'CorruptBlockError';
  }
}

/** A block directory without meta.json (an upload in progress or an aborted one). */
export class PartialBlockError extends Error {
  constructor(public readonly block: string) {
    super(`block ${block} is partial: meta.json is missing`);
    this.name = 'PartialBlockError';
  }
}

export class BlockWriteError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BlockWriteError';
  }
}
