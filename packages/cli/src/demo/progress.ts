/**
 * One status line that updates in place on a terminal; on a pipe or a file (CI logs)
 * every update is a plain line instead, so nothing is lost to carriage returns.
 */
export class StatusLine {
  private readonly tty: boolean;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = out.isTTY === true;
  }

  /** Replaces the line's text. */
  update(text: string): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${text}`);
      this.shown = true;
    } else {
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
