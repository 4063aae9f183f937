import type { UploadProgress } from './upload-entry.js';

/** How often upload progress is reported at most. */
const progressIntervalMs = 200;

/** Upload progress: per-file completions, plus byte counts of big files as they go (throttled). */
export class Progress {
  #filesDone = 0;
  #bytesDone = 0;
  readonly #partial = new Map<string, number>();
  #lastReport = 0;
  readonly #filesTotal: number;
  readonly #bytesTotal: number;
  readonly #report: ((progress: UploadProgress) => void) | undefined;

  constructor(filesTotal: number, bytesTotal: number, report: ((progress: UploadProgress) => void) | undefined) {
    this.#filesTotal = filesTotal;
    this.#bytesTotal = bytesTotal;
    this.#report = report;
  }

  partial(path: string, sent: number): void {
    this.#partial.set(path, sent);
    if (Date.now() - this.#lastReport >= progressIntervalMs) this.#emit();
  }

  fileDone(path: string, size: number): void {
    this.#partial.delete(path);
    this.#filesDone += 1;
    this.#bytesDone += size;
    this.#emit();
  }

  #emit(): void {
    this.#lastReport = Date.now();
    let inFlight = 0;
    for (const sent of this.#partial.values()) inFlight += sent;
    this.#report?.({
      filesDone: this.#filesDone,
      filesTotal: this.#filesTotal,
      bytesDone: Math.min(this.#bytesDone + inFlight, this.#bytesTotal),
      bytesTotal: this.#bytesTotal,
    });
  }
}
