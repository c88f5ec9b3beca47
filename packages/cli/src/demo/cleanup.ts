/**
 * A stack of undo steps for everything the demo creates (namespaces, processes, files), run
 * in reverse order at the end, whether the demo succeeded, failed or was interrupted.
 */

/** Undo steps, run last-in first-out, each at most once. */
export class Cleanup {
  private readonly steps: Array<{ what: string; undo: () => Promise<void> | void }> = [];
  private running: Promise<string[]> | null = null;

  /** Registers an undo step; `what` names it in the report of failed steps. */
  defer(what: string, undo: () => Promise<void> | void): void {
    this.steps.push({ what, undo });
  }

  /**
   * Runs every step, newest first. A failing step does not stop the others; the returned
   * list names those that failed. Calling it again waits for the same run.
   */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const failed: string[] = [];
      for (const step of this.steps.reverse()) {
        try {
          await step.undo();
        } catch (e) {
          failed.push(`${step.what}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      this.steps.length = 0;
      return failed;
    })();
    return this.running;
  }
}
