/**
 * Reading a configuration or key file without trusting what the path names: a FIFO or a
 * device would block or never end, so only a regular file is read, and only up to a size
 * a real one has. The checks are made on the opened file (no check-then-open race), and
 * opening does not block (O_NONBLOCK) even when the path is a FIFO.
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** Why a file was not read: an errno code (`ENOENT`, `EACCES`, …), or one of these. */
export class FileRefused extends Error {
  override readonly name = "FileRefused";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * The contents of the regular file at `path`, at most `maxBytes` long.
 * @throws {FileRefused} with a reason for a user: not a regular file, too large, or the errno
 */
export function readRegularFile(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw new FileRefused(`cannot read it: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileRefused(`is not a regular file (${kind(st)})`);
    if (st.size > maxBytes) throw new FileRefused(`is ${st.size} bytes; a real one has at most ${maxBytes}`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.toString("utf8", 0, got);
  } finally {
    closeSync(fd);
  }
}

function kind(st: { isFIFO(): boolean; isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}
