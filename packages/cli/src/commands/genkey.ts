/** `taltun genkey`: a new private key, base64, as `wg genkey` prints it. */
import { fstatSync } from "node:fs";
import { encodeKey, generatePrivateKey } from "@taltun/engine";
import type { Command } from "commander";
import { action } from "../errors.js";

export function registerGenkey(program: Command): void {
  program
    .command("genkey")
    .description("print a new private key (base64), e.g. taltun genkey > hub.key")
    .action(
      action(() => {
        // Like wg: a key written into a file others can read deserves a warning.
        const st = fstatSync(1);
        if (st.isFile() && st.mode & 0o077) {
          process.stderr.write("taltun: warning: writing a private key to a file others can read; run `umask 077` first\n");
        }
        process.stdout.write(`${encodeKey(generatePrivateKey())}\n`);
      }),
    );
}
