/**
 * The layout of a layer for a Windows image. Windows (hcsshim, which containerd and Docker use to
 * unpack layers there) reads a layer tar as a volume snapshot, not as a Linux root:
 * - the files of the system drive live under `Files/` (`Files/app/App.dll` is `C:\app\App.dll`),
 *   and registry changes under `Hives/`; a layer made on Windows starts with both directories;
 * - the owner and access rights of each entry come from a pax record, `MSWINDOWS.rawsd`: a
 *   Windows security descriptor in binary (self-relative) form, base64 (the OCI image spec lists
 *   the `MSWINDOWS.*` records under "Platform-specific attributes" of its layer format). Without
 *   it the files are owned by no one a process runs as, and a program in them cannot be started.
 *   Mode bits, uid and gid mean nothing there.
 *
 * The descriptor given here names BUILTIN\Users (S-1-5-32-545) as owner and group and has no
 * DACL, so every account in the container, ContainerUser included, may read and run the files:
 * go-containerregistry and ko give the files of a layer they make for Windows the same owner and
 * group; the .NET SDK's container builder grants BUILTIN\Users access too (after the Cloud Native
 * Buildpacks' RFC 0076 on Windows security identifiers).
 *
 * Symbolic links are refused in such a layer: on Windows they are reparse points, which a tar
 * entry can only carry with more `MSWINDOWS.*` records (and privileges to create them) that
 * regpush does not write.
 */
import { InputError } from '../errors.js';
import type { TarEntryHeader } from './tar-header.js';

/** The top directory of the system drive's files in a Windows layer. */
const WINDOWS_FILES = 'Files/';
/** The top directory of registry changes in a Windows layer (empty in the layers regpush makes). */
const WINDOWS_HIVES = 'Hives/';

/**
 * The security descriptor as Windows stores it (SECURITY_DESCRIPTOR_RELATIVE, little-endian):
 * a 20-byte header — revision 1, a reserved byte, control SE_SELF_RELATIVE (0x8000), then the
 * offsets of owner (20), group (36), SACL (0: none) and DACL (0: none) — followed by the owner SID
 * and the group SID, both S-1-5-32-545: revision 1, two sub-authorities, identifier authority 5
 * (NT, six bytes big-endian), then the sub-authorities 32 (BUILTIN) and 545 (Users), four bytes each.
 */
function builtinUsersDescriptor(): string {
  const head = Buffer.alloc(20);
  head[0] = 1;
  head.writeUInt16LE(0x8000, 2);
  head.writeUInt32LE(20, 4);
  head.writeUInt32LE(36, 8);
  const sid = Buffer.alloc(16);
  sid[0] = 1;
  sid[1] = 2;
  sid[7] = 5;
  sid.writeUInt32LE(32, 8);
  sid.writeUInt32LE(545, 12);
  return Buffer.concat([head, sid, sid]).toString('base64');
}

/** The refusal of a symlink at layer path `name` ("app/l.txt") in a Windows layer: the build and the check before it say the same. */
export function windowsSymlinkRefused(name: string): InputError {
  return new InputError(
    `/${name} is a symbolic link, which a Windows layer cannot hold (regpush writes no reparse points); ` +
      'replace it with the file or exclude it in .dockerignore',
    { details: { path: `/${name}` } },
  );
}

/*
 * Names Windows cannot hold, after Microsoft's "Naming Files, Paths, and Namespaces"
 * (https://learn.microsoft.com/windows/win32/fileio/naming-a-file): the characters < > : " / \ | ? *
 * and those of codes 0-31; a name ending in a dot or a space (the shell and most APIs strip them,
 * so the file cannot be opened by the name it has); the device names CON, PRN, AUX, NUL, COM1-9
 * and LPT1-9, with or without an extension (`NUL.txt` is the device too), in any case. NTFS is
 * case-insensitive as Windows mounts it, so two names of one folder that differ only in case are
 * one file there. A Linux source may hold any of them; in a Windows container such a file could
 * not be used by the name it has, so the layer refuses it up front, naming it (what hcsshim does
 * with one when it unpacks the layer is another question, not relied on here).
 */
const WINDOWS_BAD_CHARS = /[<>:"|?*\\\x00-\x1f]/;
const WINDOWS_DEVICE = /^(?:CON|PRN|AUX|NUL|COM[1-9\u00b9\u00b2\u00b3]|LPT[1-9\u00b9\u00b2\u00b3])(?:\..*)?$/i;

/** Why `segment` (one name of a path) is not a valid Windows name, or undefined when it is. */
function windowsNameProblem(segment: string): string | undefined {
  const bad = WINDOWS_BAD_CHARS.exec(segment);
  if (bad) {
    const ch = bad[0];
    return ch < ' ' ? `it holds the control character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : `it holds the character ${ch}`;
  }
  if (/[. ]$/.test(segment)) return `it ends with ${segment.endsWith('.') ? 'a dot' : 'a space'}`;
  if (WINDOWS_DEVICE.test(segment)) return `${segment.split('.')[0]!.toUpperCase()} is a device name there`;
  return undefined;
}

/**
 * `name` upper-cased as NTFS compares names: one UTF-16 unit at a time, through a table that maps
 * each unit to one unit. Unicode's full upper case maps some letters to two (ß to SS, the ligature
 * ﬁ to FI), which NTFS does not, so `straße.txt` and `STRASSE.txt` are two files there: such a
 * letter stays itself. A unit that is half of a surrogate pair has no upper case, as in NTFS's
 * table (which covers the BMP only). Otherwise its table agrees with Unicode's upper case for all
 * but a few letters.
 */
export function ntfsUpperCase(name: string): string {
  if (/^[\x00-\x7f]*$/.test(name)) return name.toUpperCase();
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const unit = name[i]!;
    const upper = unit.toUpperCase();
    out += upper.length === 1 ? upper : unit;
  }
  return out;
}

/**
 * Checks each layer path of a Windows layer ("app/bin/", "app/App.dll") as the walk gives it:
 * every name valid on Windows, and no two names of one folder that differ only in case. Holds the
 * case-folded paths seen, so one instance serves one walk.
 */
export class WindowsNames {
  private readonly seen = new Map<string, string>();

  check(name: string): void {
    const path = name.endsWith('/') ? name.slice(0, -1) : name;
    const last = path.slice(path.lastIndexOf('/') + 1);
    const problem = windowsNameProblem(last);
    if (problem) throw new InputError(`/${path}: "${last}" is not a valid name on Windows (${problem}); rename it or exclude it in .dockerignore`, { details: { path: `/${path}` } });
    const folded = ntfsUpperCase(path);
    const other = this.seen.get(folded);
    if (other !== undefined && other !== path) {
      throw new InputError(`/${other} and /${path} differ only in case, and Windows takes them for one file; rename one or exclude it in .dockerignore`, { details: { path: `/${path}` } });
    }
    this.seen.set(folded, path);
  }
}

/** The pax record every entry of a Windows layer carries. */
const WINDOWS_PAX: readonly (readonly [string, string])[] = Object.freeze([['MSWINDOWS.rawsd', builtinUsersDescriptor()] as const]);

/** Mode of the two top directories (Windows ignores it; fixed so the bytes are). */
const TOP_MODE = 0o755;

/** The entries a Windows layer starts with, before anything of the walk: `Files/` and `Hives/`. */
export function windowsTopEntries(mtime: Date): TarEntryHeader[] {
  return [WINDOWS_FILES, WINDOWS_HIVES].map((name) => ({ name, type: 'directory', mode: TOP_MODE, uid: 0, gid: 0, size: 0, mtime, pax: WINDOWS_PAX }));
}

/** A walk entry's header as a Windows layer writes it: under `Files/`, with the security descriptor. */
export function asWindowsEntry(h: TarEntryHeader): TarEntryHeader {
  return { ...h, name: WINDOWS_FILES + h.name, pax: WINDOWS_PAX };
}

/** An image path of a Windows image: `C:\app`, `C:/app`, or rooted on the current drive (`\app`, `/app`). */
const WINDOWS_PATH = /^(?:([A-Za-z]):)?[\\/]/;

/** True when `dest` is written the Windows way: with a drive letter or a backslash at its root. */
export function isWindowsStylePath(dest: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(dest) || dest.startsWith('\\');
}

/**
 * A destination inside a Windows image (`C:\app`, `C:/app`, `\app`, `/app`) as the layer's own
 * path form (`/app`), which the layer then puts under `Files/`. Only the system drive exists in a
 * layer. Returns the message of what is wrong, or the path.
 */
export function windowsDestination(dest: string): { path: string } | { problem: string } {
  const m = WINDOWS_PATH.exec(dest);
  if (!m) return { problem: `destination "${dest}" must be an absolute path inside the image (C:\\app or /app)` };
  if (m[1] && m[1].toUpperCase() !== 'C') return { problem: `destination "${dest}" is on drive ${m[1].toUpperCase()}:, and a Windows layer holds only the system drive (C:)` };
  const path = '/' + dest.slice(m[0].length).replace(/\\/g, '/');
  for (const part of path.split('/')) {
    if (part === '' || part === '.' || part === '..') continue; // "C:\app\", "\app\." name the folder itself
    const problem = windowsNameProblem(part);
    if (problem) return { problem: `destination "${dest}": "${part}" is not a valid name on Windows (${problem})` };
  }
  return { path };
}
