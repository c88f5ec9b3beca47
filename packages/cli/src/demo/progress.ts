/**
 * One status line that updates in place on a terminal; on a pipe or a file (CI logs)
 * updates are plain lines instead, at most one a second, so nothing is lost to carriage
 * returns and a log is not flooded.
 */
export class StatusLine {
  private readonly tty: boolean;
  private shown = false;
  private lastPlain = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = out.isTTY === true;
  }

  /** Replaces the line's text. */
  update(text: string): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${text}`);
      this.shown = true;
    } else if (Date.now() - this.lastPlain >= 1000) {
      this.lastPlain = Date.now();
      this.out.write(`${text}\n`);
    }
  }

  /** Writes a final line and leaves it there. */
  done(text: string): void {
    if (this.tty && this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
    this.out.write(`${text}\n`);
  }
}
