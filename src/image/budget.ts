// What an import may write: a compressed image can expand without bound (a gzip bomb), and
// the store's file system (/var/lib) is shared with everything else on the host. Every byte an
// import decompresses to disk (a gzipped archive into tmp/, each layer's files) is counted
// against a ceiling, and the free space left is checked as it goes.
import { statfsSync } from 'node:fs';
import { Transform } from 'node:stream';
import { TspodError } from '../errors.js';

export interface ImportLimits {
  /** Bytes an import may decompress in all (TSPOD_IMAGE_MAX_BYTES). */
  maxBytes: number;
  /** Free bytes an import must leave on the store's file system (TSPOD_IMAGE_MIN_FREE_BYTES). */
  minFreeBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 64 * 2 ** 30, minFreeBytes: 2 ** 30 };

/** How many bytes go by between two looks at the free space. */
const CHECK_EVERY = 16 * 2 ** 20;

const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;

export class ImportBudget {
  private written = 0;
  private sinceCheck = CHECK_EVERY;

  constructor(
    private readonly limits: ImportLimits,
    /** A directory on the file system written to. */
    private readonly dir: string,
  ) {}

  /** Counts `n` bytes about to be written for `what`; throws a TspodError naming it when over. */
  charge(n: number, what: string): void {
    this.written += n;
    if (this.written > this.limits.maxBytes) {
      throw new TspodError(`${what}: the import would write more than ${mib(this.limits.maxBytes)} (its ceiling, TSPOD_IMAGE_MAX_BYTES)`);
    }
    this.sinceCheck += n;
    if (this.sinceCheck < CHECK_EVERY) return;
    this.sinceCheck = 0;
    const st = statfsSync(this.dir);
    const free = st.bavail * st.bsize;
    if (free - n < this.limits.minFreeBytes) {
      throw new TspodError(
        `${what}: the import would leave less than ${mib(this.limits.minFreeBytes)} free on the file system of ${this.dir} ` +
          `(${mib(free)} free; TSPOD_IMAGE_MIN_FREE_BYTES)`,
      );
    }
  }

  /**
   * A stream that passes bytes through, counting them against the ceiling alone: what is
   * decompressed only to be hashed (nothing written), bounded all the same.
   */
  ceiling(what: string): Transform {
    let seen = 0;
    const max = this.limits.maxBytes;
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        seen += chunk.length;
        if (seen > max)
          cb(new TspodError(`${what}: more than ${mib(max)} once decompressed (the import's ceiling, TSPOD_IMAGE_MAX_BYTES)`));
        else cb(null, chunk);
      },
    });
  }

  /** A stream that passes bytes through, charging them to `what`. */
  counter(what: string): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        try {
          this.charge(chunk.length, what);
          cb(null, chunk);
        } catch (err) {
          cb(err as Error);
        }
      },
    });
  }
}
