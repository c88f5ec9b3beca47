/** `taltun pubkey`: the public key of the private key on standard input, as `wg pubkey`. */
import { KeyFormatError, encodeKey, parseKey, publicKeyFrom } from "@taltun/engine";
import type { Command } from "commander";
import { CliError, action } from "../errors.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function registerPubkey(program: Command): void {
  program
    .command("pubkey")
    .description("read a private key (base64 or hex) on stdin, print its public key, e.g. taltun pubkey < hub.key")
    .action(
      action(async () => {
        let key: Uint8Array;
        try {
          key = parseKey(await readStdin(), "standard input");
        } catch (e) {
          if (e instanceof KeyFormatError) throw new CliError(`pubkey: ${e.message}`);
          throw e;
        }
        process.stdout.write(`${encodeKey(publicKeyFrom(key))}\n`);
      }),
    );
}
