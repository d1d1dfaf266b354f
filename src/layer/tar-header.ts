/**
 * Tar headers byte for byte as tar-stream's `pack()` writes them for the entries regpush makes
 * (file, directory, symlink, hard link; no uname/gname, no device numbers). Layers were first written by
 * tar-stream, and every layer regpush builds must keep the bytes (and so the digests) it gave:
 * a unit test compares the tar built here with tar-stream's on awkward trees (long and non-ASCII
 * names, long link targets, sizes on block boundaries). Both the layer build (tar.ts) and the
 * diffID pass of the warm path write their headers here; writing them straight into the tar's
 * blocks, without tar-stream's per-entry streams and buffers, is what keeps an app of 50,000
 * small files within the memory goal (docs/performance.md, "Many small files").
 *
 * The format (POSIX ustar, pax for what does not fit), as tar-stream applies it:
 * - names of ASCII only, split at a `/` into prefix (≤ 155 bytes) and name (≤ 100 bytes);
 * - numeric fields octal, zero-padded, ending in a space; sizes past 11 octal digits in base 256;
 * - otherwise (non-ASCII name, no split possible, link target over 100 bytes) a pax header named
 *   `PaxHeader` with `path` and `linkpath` records, and the entry's own header also named `PaxHeader`.
 *
 * Beyond what tar-stream wrote (regpush refused these inputs then, so no earlier layer changes):
 * a uid or gid past the 6 octal digits tar-stream gives it (262143; OpenShift's assigned ids are
 * around 10^9) goes in `uid`/`gid` pax records, as POSIX pax and Go's archive/tar do; the ustar
 * field then holds all sevens. Its entry keeps its own name unless the name needs pax too. The
 * entries of a Windows layer carry one more record each, the same way (windows-layer.ts).
 */

/** The fields of one entry. */
export interface TarEntryHeader {
  name: string;
  /** `link`: a hard link to the file an earlier entry named `linkname` (no data of its own). */
  type: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of file data (0 for directories and symlinks). */
  size: number;
  mtime: Date;
  linkname?: string;
  /** More pax records for the entry, in this order (a Windows layer's security descriptor: windows-layer.ts). */
  pax?: readonly (readonly [string, string])[];
}

const BLOCK = 512;
const TYPEFLAG = { file: 0, link: 1, symlink: 2, directory: 5, 'pax-header': 72 } as const;
const MAGIC = Buffer.from('ustar\x0000', 'latin1'); // magic "ustar\0", version "00"

/** `value` in `digits` octal digits and a space; all sevens when it does not fit. */
function octal(value: number, digits: number): string {
  const s = value.toString(8);
  return s.length > digits ? `${'7'.repeat(digits)} ` : `${s.padStart(digits, '0')} `;
}

/** One 512-byte ustar header (in `into` when given, else a new buffer), or undefined when the entry needs a pax header. */
function ustar(h: Omit<TarEntryHeader, 'type'>, type: keyof typeof TYPEFLAG, into?: Buffer): Buffer | undefined {
  let name = h.name;
  let prefix = '';
  if (Buffer.byteLength(name) !== name.length) return undefined; // not ASCII
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) return undefined;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (name.length > 100 || prefix.length > 155) return undefined;
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) return undefined;
  const b = into ? into.fill(0, 0, BLOCK) : Buffer.alloc(BLOCK);
  b.write(name, 0);
  b.write(octal(h.mode & 0o7777, 6), 100);
  b.write(octal(h.uid, 6), 108);
  b.write(octal(h.gid, 6), 116);
  if (h.size.toString(8).length > 11) {
    // base 256: a marker byte, then the size big-endian in 11 bytes
    b[124] = 0x80;
    let n = h.size;
    for (let i = 11; i > 0; i--) {
      b[124 + i] = n & 0xff;
      n = Math.floor(n / 0x100);
    }
  } else {
    b.write(octal(h.size, 11), 124);
  }
  // tar-stream wrote `| 0`, the same seconds up to 2038; floor keeps them correct up to the field's 2242 (options.ts).
  b.write(octal(Math.floor(h.mtime.getTime() / 1000), 11), 136);
  b[156] = 0x30 + TYPEFLAG[type];
  if (h.linkname) b.write(h.linkname, 157);
  MAGIC.copy(b, 257);
  b.write(octal(0, 6), 329); // devmajor
  b.write(octal(0, 6), 337); // devminor
  if (prefix) b.write(prefix, 345);
  // Checksum: every byte, the checksum field itself counted as eight spaces.
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < BLOCK; i++) sum += b[i]!;
  b.write(octal(sum, 6), 148);
  return b;
}

/** A pax record: its own decimal length, then the text. */
function paxRecord(text: string): string {
  const len = Buffer.byteLength(text);
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= Math.pow(10, digits)) digits++;
  return `${len + digits}${text}`;
}

/** Zero bytes that complete `size` bytes of data to whole blocks. */
function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest ? BLOCK - rest : 0);
}

/**
 * The bytes before an entry's data: its header, or a pax header, its records and the entry header.
 * With `scratch` (a 512-byte buffer), a plain header is written into it and returned as its only
 * element, so the common entry allocates no buffer; the caller must use it before the next call.
 */
export function entryHeaderBytes(h: TarEntryHeader, scratch?: Buffer): Buffer[] {
  const extra = (h.uid > MAX_USTAR_ID || h.gid > MAX_USTAR_ID ? idRecords(h) : '') + (h.pax ? h.pax.map(([k, v]) => paxRecord(` ${k}=${v}\n`)).join('') : '');
  const plain = ustar(h, h.type, scratch);
  if (plain && !extra) return [plain];
  if (plain) {
    // Only the ids or the extra records need pax: the entry header keeps its name and link target.
    const records = Buffer.from(extra);
    return [ustar({ ...h, name: 'PaxHeader', linkname: h.linkname && 'PaxHeader', size: records.length }, 'pax-header')!, records, padding(records.length), plain];
  }
  const records = Buffer.from(paxRecord(` path=${h.name}\n`) + (h.linkname ? paxRecord(` linkpath=${h.linkname}\n`) : '') + extra);
  const renamed = { ...h, name: 'PaxHeader', linkname: h.linkname && 'PaxHeader' };
  return [ustar({ ...renamed, size: records.length }, 'pax-header')!, records, padding(records.length), ustar(renamed, h.type)!];
}

/** The largest uid/gid the ustar header holds as tar-stream writes it: 6 octal digits. */
const MAX_USTAR_ID = 0o777777;

/** The `uid`/`gid` pax records an entry needs (ids past the ustar field), or ''. */
function idRecords(h: TarEntryHeader): string {
  return (h.uid > MAX_USTAR_ID ? paxRecord(` uid=${h.uid}\n`) : '') + (h.gid > MAX_USTAR_ID ? paxRecord(` gid=${h.gid}\n`) : '');
}

/** Bytes of the end of an archive: two zero blocks. */
export const END_OF_ARCHIVE_SIZE = 2 * BLOCK;
